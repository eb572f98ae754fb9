"""Class names: reading class files, default seen names, and the checks every name list must pass."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

from .errors import InjectError


def read_class_file(path: str | os.PathLike, what: str = "class file") -> list[str]:
    """Class names from a UTF-8 text file (a BOM is allowed), one per line; blanks and ``#`` comments skipped."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InjectError(f"{what} '{path}' does not exist") from None
    except IsADirectoryError:
        raise InjectError(f"{what} '{path}' is a folder; give a text file with one class name per line") from None
    except UnicodeDecodeError as error:
        raise InjectError(f"{what} '{path}' is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise InjectError(f"{what} '{path}' cannot be read: {error.strerror or error}") from None
    names = [line.strip() for line in text.splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise InjectError(f"{what} '{path}' has no class names; write one name per line")
    return names


def is_named_set(classes: str | os.PathLike) -> bool:
    """Whether ``--classes`` names a class set (``imagenet21k``, ``2-hops``, ``3-hops``, ``all``): a path
    that exists is always a file, so a set name never shadows one."""
    from .knowledge.sets import NAMED_SETS

    return str(classes) in NAMED_SETS and not Path(classes).exists()


def class_lines(classes: str | os.PathLike, seen: Sequence[str] | None = None) -> list[str]:
    """The lines of ``--classes``: a class file's, or a named set's less the model's own classes.

    ``seen``: the model's class names (``None``: ImageNet-1K's), left out of a named set by synset.
    """
    if not is_named_set(classes):
        return read_class_file(classes, "--classes file")
    from .knowledge.sets import model_wnids, named_set

    return named_set(str(classes), model_wnids(seen))


def _spaced(name: str) -> str:
    """``name`` with runs of white space as one space and none at the ends."""
    return " ".join(name.split())


def same_class(a: str, b: str) -> bool:
    """Whether two class names name one class: equal but for case and spaces.

    Unless WordNet spells them as different nouns, case included: ImageNet-1K has ``Cardigan`` (the
    corgi) and ``cardigan`` (the sweater), and a head that holds one can take the other.
    """
    if _spaced(a) == _spaced(b):
        return True
    if _spaced(a).casefold() != _spaced(b).casefold():
        return False
    from .knowledge.resolve import exact_senses

    senses_a, senses_b = exact_senses(a), exact_senses(b)
    return not (senses_a and senses_b and senses_a.isdisjoint(senses_b))


def split_descriptions(lines: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """(names, ``{name: [texts]}``) from class-file lines, each ``name`` or ``name: free text``.

    A name's texts gather from every ``name: text`` line (in order); it is listed once, where it first
    appears. Repeated plain lines stay repeated, so ``check_names`` refuses them as duplicates.
    """
    names: list[str] = []
    descriptions: dict[str, list[str]] = {}
    for line in lines:
        name, separator, text = line.partition(": ")
        name, text = name.strip(), text.strip()
        if separator and name and text:
            if name not in descriptions and name not in names:
                names.append(name)
            descriptions.setdefault(name, []).append(text)
        elif line.strip() not in descriptions:
            names.append(line.strip())
    return names, descriptions


def _by_fold(names: Sequence[str]) -> dict[str, list[str]]:
    """Names grouped by their case- and space-folded spelling (only names in one group can be one class)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(_spaced(name).casefold(), []).append(name)
    return groups


def _existing(new: Sequence[str], seen: Sequence[str]) -> list[str]:
    """The names of ``new`` that are already in ``seen`` (see ``same_class``)."""
    groups = _by_fold(seen)
    return [name for name in new if any(same_class(name, s) for s in groups.get(_spaced(name).casefold(), []))]


def check_names(new: Sequence[str], seen: Sequence[str]) -> None:
    """Refuse blank or duplicate new names and new names that are already seen classes."""
    if not new:
        raise InjectError("no new class names given; pass at least one")
    blank = [i for i, name in enumerate(new) if not name.strip()]
    if blank:
        raise InjectError(f"new class name #{blank[0] + 1} is blank; every new class needs a name")
    duplicates = sorted({a for group in _by_fold(new).values() for i, a in enumerate(group)
                         for j, b in enumerate(group) if i != j and same_class(a, b)})
    if duplicates:
        raise InjectError(f"duplicate new class names: {', '.join(duplicates)}; list each class once")
    existing = _existing(new, seen)
    if existing:
        raise InjectError(
            f"already classes of the model: {', '.join(existing)}; remove them from the new names "
            "(or skip them with --allow-existing, API: allow_existing=True)"
        )


def select_new_names(new: Sequence[str], seen: Sequence[str], allow_existing: bool = False) -> list[str]:
    """The names of ``new`` to inject, after ``check_names``.

    With ``allow_existing``, names already in ``seen`` are left out with a ``UserWarning`` naming them
    (the CLI prints it as a note).

    Raises:
        InjectError: as ``check_names``, or every new name is already a seen class.
    """
    if not allow_existing:
        check_names(new, seen)
        return list(new)
    check_names(new, [])
    existing = _existing(new, seen)
    if len(existing) == len(new):
        raise InjectError(
            f"all {len(new)} new class names are already classes of the model ({', '.join(existing)}); nothing to inject"
        )
    if existing:
        warnings.warn(f"skipped names already among the model's classes: {', '.join(existing)}", stacklevel=2)
    return [name for name in new if name not in existing]


def default_seen_names(num_classes: int, known: Sequence[str] | None = None, source: str = "the model") -> list[str]:
    """Names of a head's ``num_classes`` seen classes: ``known``, else ImageNet-1K's for 1000 rows.

    Raises:
        InjectError: ``known`` (the label names from ``source``) does not fit the head, or no names.
    """
    if known is not None and len(known) == num_classes:
        return list(known)
    if known is not None:
        raise InjectError(
            f"{source} has {len(known)} label names but the head has {num_classes} rows; "
            "give one name per head row, in row order, with --seen-names (API: seen=[...])"
        )
    if num_classes == 1000:
        from .assets import imagenet_class_names

        return list(imagenet_class_names())
    raise InjectError(
        f"{source} has a {num_classes}-class head and no label names; "
        "give the seen class names, one per line, with --seen-names (API: seen=[...])"
    )
