"""``inject-classes``: add classes to a classifier (a weights file, a model folder or a Hub id) from their names alone."""
from __future__ import annotations

import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NoReturn

import click

from . import __version__
from .adapters import HeadError
from .allocator import keep_freed_memory
from .calibration import DEFAULT_CALIBRATION, list_calibrations
from .errors import InjectError
from .mappers import DEFAULT_MAPPER, list_mappers
from .pipeline import DEFAULT_DESCRIPTORS, DESCRIPTORS, Injection
from .runs import run
from .trust import shown_lines, weakest_table
from .unlabelled.report import pile_summary


def _meaning(item: dict[str, Any]) -> str:
    """What ``--explain`` says a name was taken to mean: its synset, a head-noun sense set aside, or nothing."""
    if item["wnid"]:
        return f"{item['wnid']} ({item['how']}): {item['gloss']}"
    if item.get("rejected"):
        return f"its head noun's sense {item['rejected']} disagrees with its text: described by its text alone"
    return "not in WordNet: described by its name (and descriptions) alone"


def explanation(injection: Injection) -> list[str]:
    """``--explain``: one line per new class, what its name was taken to mean and its nearest seen classes."""
    lines = []
    for item in injection.explained:
        meaning = _meaning(item)
        expected = (injection.record.get("classes") or {}).get(item["name"], {}).get("expected_top1")
        estimate = f" | expected top-1 {expected:.2f}" if expected is not None else ""
        lines.append(f"{item['name']} -> {meaning} | nearest seen: {', '.join(item['nearest_seen'])}{estimate}")
    return lines


def warning_lines(injection: Injection) -> list[str]:
    """The record's class warnings (``inject.trust.warnings``), one ``inject-classes: warning: ...`` line each."""
    return [f"inject-classes: warning: {line}" for line in shown_lines(injection.record.get("warnings") or [])]


def photo_summary(injection: Injection) -> list[str]:
    """With --images: one line per class with photos (count, leave-photos-out top-1, what it is taken for)."""
    photos = injection.record.get("photos")
    if not photos:
        return []
    lines = [f"photos: {photos['photos']} used; leave-photos-out top-1 among the new classes:"]
    for name, entry in photos["per_class"].items():
        held = entry.get("held_out_top1")
        result = "n/a (one photo)" if held is None else f"{held:.2f}"
        expected = (injection.record.get("classes") or {}).get(name, {}).get("expected_top1")
        result += f" (image-free estimate {expected:.2f})" if expected is not None else ""
        confused = f", taken for {', '.join(entry['confused_with'])}" if entry.get("confused_with") else ""
        lines.append(f"  {name}: {entry['photos']} photos, {result}{confused}")
    held = [entry["held_out_top1"] for entry in photos["per_class"].values() if "held_out_top1" in entry]
    chance = 1 / max(injection.record["injected"], 1)
    if held and sum(held) / len(held) < 2 * chance:
        lines.append(f"  warning: held-out top-1 {sum(held) / len(held):.2f} is near chance ({chance:.2f}): this "
                     "model's features barely tell these classes apart; more photos or another backbone may help")
    lines += [f"  note: {note}" for note in photos["skipped"]]
    return lines


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``inject-classes: error: MESSAGE`` as one line on stderr and exit with ``code``."""
    click.echo(f"inject-classes: error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the CLI: one ``inject-classes: note: ...`` line on stderr."""
    click.echo(f"inject-classes: note: {' '.join(str(message).split())}", err=True)


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` within the block, so the output's temp file is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class OneLineErrors(click.Command):
    """A click command whose usage errors (missing or malformed options) are one line too, exit 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as error:
            fail(f"{error.format_message()} (see inject-classes --help)", error.exit_code)
        except click.ClickException as error:
            fail(error.format_message(), error.exit_code)
        except click.Abort:
            fail("aborted", 1)


@click.command(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model_path", metavar="MODEL")
@click.option("--classes", "classes", required=True, type=click.Path(path_type=Path),
              help="UTF-8 text file, one new class per line: a name, a WordNet id (n02391049), 'name (n02391049)', "
                   "or 'name: a sentence describing it' (lines of one name add up). Or a named set, less the "
                   "model's own classes: imagenet21k (every ImageNet-21K synset), or the DGP splits 2-hops, "
                   "3-hops, all (read from the data folder, INJECT_DATA); an existing file of that name wins.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Where to write the extended model: a .safetensors file for a weights file (default "
                   "MODEL-injected.safetensors), a folder for a model folder or Hub id (default MODEL-injected).")
@click.option("--seen-names", type=click.Path(path_type=Path), default=None,
              help="Names of the head's existing classes, one per line (default: metadata label_names, "
                   "or ImageNet-1K for 1000 rows).")
@click.option("--head-key", default=None, help="State-dict prefix of the classifier, e.g. 'head.fc'.")
@click.option("--mapper", type=click.Choice(list_mappers()), default=DEFAULT_MAPPER, show_default=True,
              help="How rows are predicted from descriptors.")
@click.option("--encoder", default=None,
              help="sentence-transformers model folder, or a name in the local HF cache; nothing is downloaded "
                   "(default: packaged all-MiniLM-L6-v2).")
@click.option("--calibration", type=click.Choice(list_calibrations()), default=DEFAULT_CALIBRATION, show_default=True,
              help="How the seen/unseen bias offset of the new classes is chosen without images: virtual features, "
                   "the margin rule, the ZLA prior (--prior-ratio) or none.")
@click.option("--gamma", type=float, default=None,
              help="Set the seen/unseen bias offset of the new classes yourself (overrides --calibration).")
@click.option("--prior-ratio", type=float, default=None,
              help="For --calibration prior: prior of one new class over one seen class (default: seen/new counts).")
@click.option("--calibrate-images", type=click.Path(path_type=Path), default=None,
              help="Folder of labelled photos (one subfolder per seen or new class): choose the offset on them "
                   "by calibrated stacking instead (needs 'architecture' metadata).")
@click.option("--images", type=click.Path(path_type=Path), default=None,
              help="Folder with one subfolder of photos per new class (any subset, from one photo each): the photos "
                   "sharpen those classes' rows and choose the offset (needs 'architecture' metadata).")
@click.option("--unlabelled-images", "unlabelled", type=click.Path(path_type=Path), default=None,
              help="Folder of unsorted photos of the new classes (searched recursively; no labels): they sharpen the "
                   "new rows and choose the offset (needs 'architecture' metadata; not with --gamma).")
@click.option("--descriptors", type=click.Choice(DESCRIPTORS), default=DEFAULT_DESCRIPTORS, show_default=True,
              help="What a name means: 'knowledge' resolves it to a WordNet synset and combines name, gloss, "
                   "hierarchy and descriptions with weights fitted on the seen classes; 'names' encodes the name alone "
                   "(averaged with its descriptions, if the line has any).")
@click.option("--explain", is_flag=True,
              help="Print, per new class, the WordNet synset its name was taken to mean and its nearest seen classes.")
@click.option("--allow-existing", is_flag=True,
              help="Skip new names that are already classes of the model (with a note) instead of failing.")
@click.option("--force", is_flag=True, help="Allow the output to replace the input file.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bars, summary or class warnings (notes and errors still go to stderr).")
@click.version_option(__version__, prog_name="inject-classes")
def main(model_path, classes, output, seen_names, head_key, mapper, encoder, calibration, gamma, prior_ratio,
         calibrate_images, images, unlabelled, descriptors, explain, allow_existing, force, quiet) -> None:
    """Add the classes named in --classes to the classifier in MODEL, without images.

    MODEL is a weights file (.safetensors or .pth), a timm or transformers model folder (config.json +
    weights), or a Hugging Face Hub id (timm/resnet50.a1_in1k), read from the local cache when offline.
    """
    start = time.perf_counter()
    keep_freed_memory()
    with warnings.catch_warnings(), _sigterm_exits():
        warnings.showwarning = _note
        warnings.filterwarnings("always", module=r"inject\b")  # every run notes its skipped names
        try:
            written, injection = run(model_path, classes, output, seen_names, head_key, force, quiet, mapper=mapper,
                                     encoder=encoder, gamma=gamma, calibration=calibration, prior_ratio=prior_ratio,
                                     calibrate_images=calibrate_images, descriptors=descriptors,
                                     images=images, unlabelled=unlabelled, allow_existing=allow_existing)
        except (InjectError, HeadError) as error:
            fail(str(error))
    for line in explanation(injection) if explain else []:
        click.echo(line)
    for line in warning_lines(injection) if not quiet else []:
        click.echo(line, err=True)
    for line in photo_summary(injection) + pile_summary(injection.record) if not quiet else []:
        click.echo(line)
    if not quiet:
        injected = injection.record["injected"]
        seen = len(injection.label_names) - injected
        click.echo(f"injected {injected} classes into a {seen}-class head -> {written} "
                   f"({seen + injected} outputs, {time.perf_counter() - start:.1f} s)")
        for line in weakest_table(injection.record):
            click.echo(line)


if __name__ == "__main__":
    main()
