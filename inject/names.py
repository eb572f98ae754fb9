"""Class names: reading class files, default seen names, and the checks every name list must pass."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .errors import InjectError


def read_class_file(path: str | os.PathLike, what: str = "class file") -> list[str]:
    """Class names from a UTF-8 text file, one per line; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InjectError(f"{what} '{path}' does not exist") from None
    except UnicodeDecodeError as error:
        raise InjectError(f"{what} '{path}' is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise InjectError(f"{what} '{path}' cannot be read: {error.strerror}") from None
    names = [line.strip() for line in text.splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise InjectError(f"{what} '{path}' has no class names; write one name per line")
    return names


def check_names(new: Sequence[str], seen: Sequence[str]) -> None:
    """Refuse blank or duplicate new names and new names that are already seen classes."""
    if not new:
        raise InjectError("no new class names given; pass at least one")
    blank = [i for i, name in enumerate(new) if not name.strip()]
    if blank:
        raise InjectError(f"new class name #{blank[0] + 1} is blank; every new class needs a name")
    folded = [name.strip().casefold() for name in new]
    duplicates = sorted({name for name, f in zip(new, folded) if folded.count(f) > 1})
    if duplicates:
        raise InjectError(f"duplicate new class names: {', '.join(duplicates)}; list each class once")
    seen_folded = {name.strip().casefold() for name in seen}
    existing = [name for name, f in zip(new, folded) if f in seen_folded]
    if existing:
        raise InjectError(f"already classes of the model: {', '.join(existing)}; remove them from the new names")


def default_seen_names(num_classes: int, known: Sequence[str] | None = None) -> list[str]:
    """Names of a head's ``num_classes`` seen classes: ``known`` if it fits, else ImageNet-1K's for 1000 rows."""
    if known is not None and len(known) == num_classes:
        return list(known)
    if num_classes == 1000:
        from .assets import imagenet_class_names

        return list(imagenet_class_names())
    raise InjectError(
        f"the head has {num_classes} classes and no names travel with it; "
        "give the seen class names, one per line, with --seen-names (API: seen=[...])"
    )
