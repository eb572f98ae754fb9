"""Named class sets for ``--classes``: all of ImageNet-21K, or one of the DGP zero-shot splits.

* ``imagenet21k``: the 21,843 synsets of timm's offline ImageNet-21K table (``timm.data.ImageNetInfo``);
* ``2-hops``, ``3-hops``, ``all``: the GCNZ/DGP splits (1,549 / 7,860 / 20,846 synsets), read from
  ``imagenet21k_zsl_splits/`` of the evaluation data folder (``inject.assets.data_dir``).

Each set gives one line per synset, ``first lemma (wnid)`` (``giant panda (n02510455)``), less the
synsets among the model's own classes. The line resolves to its synset directly; the name part is
what the ``name`` source encodes and what the output's label names show.
"""
from __future__ import annotations

from typing import Collection

from ..errors import InjectError
from .wordnet import load_wordnet

DGP_SPLITS = ("2-hops", "3-hops", "all")
NAMED_SETS = ("imagenet21k", *DGP_SPLITS)
SPLIT_FOLDER = "imagenet21k_zsl_splits"


def imagenet21k_wnids() -> list[str]:
    """The 21,843 wnids of ImageNet-21K in timm's order (its offline ``_info`` table)."""
    from timm.data import ImageNetInfo

    return list(ImageNetInfo("imagenet-21k").label_names())


def split_wnids(name: str) -> list[str]:
    """The wnids of the DGP split ``name`` (``2-hops``, ``3-hops`` or ``all``) from the evaluation data folder."""
    from ..assets import data_dir

    try:
        path = data_dir() / SPLIT_FOLDER / f"{name}.txt"
    except InjectError:
        raise InjectError(f"--classes {name} reads the DGP split from the evaluation data folder "
                          f"({SPLIT_FOLDER}/{name}.txt), which was not found; set INJECT_DATA to it") from None
    if not path.is_file():
        raise InjectError(f"--classes {name}: the DGP split file '{path}' does not exist; set INJECT_DATA to the data folder")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def set_wnids(name: str) -> list[str]:
    """The wnids of the named set ``name`` (one of ``NAMED_SETS``)."""
    if name not in NAMED_SETS:
        raise InjectError(f"unknown class set '{name}'; choose one of: {', '.join(NAMED_SETS)}")
    return imagenet21k_wnids() if name == "imagenet21k" else split_wnids(name)


def synset_line(wnid: str) -> str:
    """``first lemma (wnid)``: the class line of a synset (``giant panda (n02510455)``)."""
    return f"{load_wordnet().lemmas(wnid)[0]} ({wnid})"


def named_set(name: str, exclude: Collection[str] = ()) -> list[str]:
    """Class lines of the named set ``name``, without the synsets in ``exclude`` (the model's own wnids).

    Raises:
        InjectError: an unknown set, a missing split file, a line that is not a WordNet 3.0 noun wnid,
            or nothing left after ``exclude``.
    """
    wn, excluded = load_wordnet(), set(exclude)
    wnids = list(dict.fromkeys(set_wnids(name)))
    unknown = [w for w in wnids if w not in wn]
    if unknown:
        raise InjectError(f"--classes {name}: '{unknown[0]}' is not a WordNet 3.0 noun wnid ({len(unknown)} such lines)")
    lines = [synset_line(w) for w in wnids if w not in excluded]
    if not lines:
        raise InjectError(f"--classes {name}: every synset of the set is already a class of the model")
    return lines


def model_wnids(seen_names: Collection[str] | None) -> list[str]:
    """The wnids of the model's classes: of ``seen_names`` (resolved as seen classes), else ImageNet-1K's."""
    if seen_names is None:
        from timm.data import ImageNetInfo

        return list(ImageNetInfo().label_names())
    from .context import resolve_seen

    return [r.wnid for r in resolve_seen(list(seen_names)) if r.wnid is not None]
