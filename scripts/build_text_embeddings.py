"""Rebuild the package's default-encoder embeddings of the ImageNet-1K classes (inject/data/).

Runs the default descriptor path (``inject.knowledge.describe_classes`` with the packaged
all-MiniLM-L6-v2) on the 1000 ImageNet-1K class names with an empty, private cache, and stores every
text it encoded (name prompts, lemmas and glosses) with its embedding in float16. A first run of
``inject-classes`` on an ImageNet-1K model then encodes only the new names. Rerun it whenever the
texts the default path encodes change (templates, gloss format); the tests check the file is current.

    python scripts/build_text_embeddings.py
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def main() -> None:
    os.environ["INJECT_NO_PACKAGED_EMBEDDINGS"] = "1"  # encode afresh, never from the old file
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["INJECT_CACHE_DIR"] = scratch
        from safetensors import safe_open

        from inject import assets
        from inject.checkpoint import write_safetensors
        from inject.knowledge.describe import describe_classes
        from inject.semantics import EmbeddingCache, packaged_path, resolve_encoder

        encoder = resolve_encoder(None)
        describe_classes(assets.imagenet_class_names(), [], encoder, progress=True)
        with safe_open(str(EmbeddingCache(encoder.name).path), "pt") as f:
            texts, vectors = json.loads(f.metadata()["texts"]), f.get_tensor("embeddings")
    order = sorted(range(len(texts)), key=texts.__getitem__)  # the same texts give the same file
    target = packaged_path(encoder.name)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(target, {"embeddings": vectors[order].half().contiguous()},
                      {"encoder": encoder.name, "texts": json.dumps([texts[i] for i in order])})
    print(f"wrote {target}: {len(texts)} texts x {vectors.shape[1]} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
