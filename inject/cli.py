"""``inject-classes``: add classes to a classifier saved as safetensors, from their names alone."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from adapters import HeadError, extend_state_dict, find_head_in_state_dict

from . import __version__
from .checkpoint import label_names_from_metadata, load_weights, write_safetensors
from .errors import InjectError
from .mappers import create_mapper, list_mappers
from .names import check_names, default_seen_names, read_class_file
from .rows import predict_new_rows
from .semantics import encode_names, resolve_encoder


def default_output(model_path: Path) -> Path:
    """``model.safetensors`` -> ``model-injected.safetensors`` beside it."""
    return model_path.with_name(f"{model_path.stem}-injected.safetensors")


def run(
    model_path: Path,
    classes: Path,
    output: Path | None = None,
    seen_names: Path | None = None,
    head_key: str | None = None,
    mapper: str = "crafted",
    encoder: str | None = None,
    gamma: float | None = None,
    force: bool = False,
    quiet: bool = False,
) -> tuple[Path, int, int]:
    """The CLI's work as a function: returns (output path, seen classes, injected classes)."""
    output = output or default_output(model_path)
    if output.resolve() == model_path.resolve() and not force:
        raise InjectError(f"output '{output}' is the input model; choose another -o or pass --force to replace it")
    if not output.parent.is_dir():
        raise InjectError(f"output folder '{output.parent}' does not exist; create it first")
    new_names = read_class_file(classes, "--classes file")
    tensors, metadata = load_weights(model_path)
    head = find_head_in_state_dict({k: v.shape for k, v in tensors.items()}, metadata, head_key)
    weight = tensors[head.weight_key].flatten(1)
    bias = tensors[head.bias_key] if head.bias_key else None
    known = read_class_file(seen_names, "--seen-names file") if seen_names else label_names_from_metadata(metadata)
    if seen_names and len(known) != weight.shape[0]:
        raise InjectError(f"--seen-names file '{seen_names}' has {len(known)} names but the head has {weight.shape[0]} rows")
    seen = default_seen_names(weight.shape[0], known)
    check_names(new_names, seen)
    text_encoder = resolve_encoder(encoder)
    descriptors = encode_names(seen + new_names, text_encoder, progress=not quiet)
    rows = predict_new_rows(weight, bias, descriptors[: len(seen)], descriptors[len(seen) :], create_mapper(mapper), gamma)
    extended = extend_state_dict(tensors, head, rows.weight, rows.bias)
    record = {"mapper": mapper, "encoder": text_encoder.name, "gamma": rows.gamma,
              "injected": len(new_names), "head": head.prefix, "version": __version__}
    write_safetensors(output, extended, {
        **metadata,
        "label_names": json.dumps(seen + new_names),
        "num_classes": str(len(seen) + len(new_names)),
        "inject": json.dumps(record),
    })
    return output, len(seen), len(new_names)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model_path", metavar="MODEL.safetensors", type=click.Path(path_type=Path))
@click.option("--classes", "classes", required=True, type=click.Path(path_type=Path),
              help="UTF-8 text file with one new class name per line.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Where to write the extended model (default: MODEL-injected.safetensors).")
@click.option("--seen-names", type=click.Path(path_type=Path), default=None,
              help="Names of the head's existing classes, one per line (default: metadata label_names, "
                   "or ImageNet-1K for 1000 rows).")
@click.option("--head-key", default=None, help="State-dict prefix of the classifier, e.g. 'head.fc'.")
@click.option("--mapper", type=click.Choice(list_mappers()), default="crafted", show_default=True,
              help="How rows are predicted from descriptors.")
@click.option("--encoder", default=None,
              help="sentence-transformers model name or local folder (default: packaged all-MiniLM-L6-v2).")
@click.option("--gamma", type=float, default=None,
              help="Seen/unseen bias offset for the new classes (default: chosen image-free).")
@click.option("--force", is_flag=True, help="Allow the output to replace the input file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary.")
@click.version_option(__version__, prog_name="inject-classes")
def main(model_path, classes, output, seen_names, head_key, mapper, encoder, gamma, force, quiet) -> None:
    """Add the classes named in --classes to the classifier in MODEL.safetensors, without images."""
    start = time.perf_counter()
    try:
        written, seen, injected = run(model_path, classes, output, seen_names, head_key, mapper, encoder, gamma, force, quiet)
    except (InjectError, HeadError) as error:
        click.echo(f"inject-classes: error: {error}", err=True)
        sys.exit(2)
    if not quiet:
        click.echo(f"injected {injected} classes into a {seen}-class head -> {written} "
                   f"({seen + injected} outputs, {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
