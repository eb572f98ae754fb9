"""One registry for everything chosen by name: mappers, calibration methods, head locators."""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from .errors import InjectError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, in registration order.

    Args:
        kind: what the entries are, for messages (``"mapper"``).
        option: where users choose one (``"--mapper"``), for messages; empty when users do not.
    """

    def __init__(self, kind: str, option: str = "") -> None:
        self.kind = kind
        self.option = option
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: add the decorated entry under ``name`` (a name can be taken once)."""

        def wrap(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._entries[name] = entry
            return entry

        return wrap

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name is an ``InjectError`` listing the known ones."""
        if name not in self._entries:
            where = f" ({self.option})" if self.option else ""
            raise InjectError(f"unknown {self.kind} '{name}'{where}; choose one of: {', '.join(self._entries)}")
        return self._entries[name]
