"""Rebuild the package's compact default-encoder embeddings of every ImageNet-21K synset (inject/data/).

For each of the 21,843 synsets in timm's offline ImageNet-21K table, the texts the default knowledge
path encodes for the line ``n02510455`` (``inject.knowledge.describe``): the name's prompt-template
ensemble and the gloss text. Stores them int8 with per-row scales, keyed by text hash
(``inject.packed``). Nothing is read from, or written to, the embedding cache. Rerun it
whenever the templates, the gloss format or the WordNet data change.

    OMP_NUM_THREADS=1 python scripts/build_synset_embeddings.py   # about 15 min on one core
"""
from __future__ import annotations

import json
import os
import sys
import time

import torch
import torch.nn.functional as F


def synset_texts() -> tuple[list[str], list[str]]:
    """(unique names, unique gloss texts) of timm's ImageNet-21K synsets, as the default path writes them."""
    from timm.data import ImageNetInfo

    from inject.knowledge import resolve_names
    from inject.knowledge.describe import gloss_text, name_text

    resolutions = resolve_names(ImageNetInfo("imagenet-21k").label_names())
    names = list(dict.fromkeys(name_text(r) for r in resolutions))
    glosses = list(dict.fromkeys(gloss_text(r) for r in resolutions))
    return names, glosses


def encode(encoder, texts: list[str], label: str) -> torch.Tensor:
    """Unit embeddings ``[N, E]`` of ``texts`` straight from the encoder (no cache), with a progress bar."""
    return encoder.encode(texts, progress=True, label=label)


def main() -> None:
    os.environ["INJECT_NO_PACKAGED_EMBEDDINGS"] = "1"
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from inject.checkpoint import write_safetensors
    from inject.packed import packed_path, quantize, text_key
    from inject.semantics import TEMPLATES, resolve_encoder

    start = time.perf_counter()
    encoder = resolve_encoder(None)
    names, glosses = synset_texts()
    templated = encode(encoder, [t.format(n) for n in names for t in TEMPLATES], f"{len(names)} names")
    ensembles = F.normalize(templated.reshape(len(names), len(TEMPLATES), -1).mean(1), dim=1)
    texts = encode(encoder, glosses, f"{len(glosses)} glosses")
    keys = torch.tensor([text_key("name", n) for n in names] + [text_key("text", g) for g in glosses])
    if len(keys.unique()) != len(keys):
        sys.exit("hash collision among the keys; change text_key")
    rows, scales = quantize(torch.cat([ensembles, texts]))
    order = keys.argsort()  # the same texts give the same file
    target = packed_path(encoder.name)
    write_safetensors(target, {"keys": keys[order].contiguous(), "rows": rows[order].contiguous(),
                               "scales": scales[order].contiguous()},
                      {"encoder": encoder.name, "templates": json.dumps(list(TEMPLATES)),
                       "names": str(len(names)), "texts": str(len(glosses))})
    print(f"wrote {target}: {len(names)} names + {len(glosses)} glosses x {rows.shape[1]} "
          f"({target.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
