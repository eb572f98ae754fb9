"""The ``Mapper`` protocol and the registry every injection method registers in."""
from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import torch

from ..registry import Registry


@runtime_checkable
class Mapper(Protocol):
    """Learns descriptors -> classifier rows from the seen classes, then predicts rows for new ones.

    Rows are ``[weight | bias]``: shape ``[C, D + 1]`` (a head without bias gives ``b = 0``).
    """

    def fit(
        self, seen_descriptors: torch.Tensor, seen_rows: torch.Tensor, new_descriptors: torch.Tensor | None = None
    ) -> "Mapper":
        """Learn from ``seen_descriptors`` ``[C, E]`` and their rows ``[C, R]``; returns ``self``.

        ``new_descriptors`` ``[K, E]`` are known at injection time; transductive methods (ICIS's
        descriptor autoencoder) may learn from them, the others ignore them.
        """
        ...

    def predict(self, new_descriptors: torch.Tensor) -> torch.Tensor:
        """Rows ``[K, R]`` for ``new_descriptors`` ``[K, E]``."""
        ...


MapperFactory = Callable[..., Mapper]
MAPPERS: Registry[MapperFactory] = Registry("mapper", "--mapper")

# ConSE: best generalised (seen + new) accuracy with MiniLM class names under virtual calibration on both
# benchmarks of docs/results.md, and training-free (milliseconds).
DEFAULT_MAPPER = "conse"


def register_mapper(name: str) -> Callable[[MapperFactory], MapperFactory]:
    """Class decorator: make a mapper available as ``create_mapper(name)`` and ``--mapper name``."""
    return MAPPERS.register(name)


def list_mappers() -> list[str]:
    """Names of the registered mappers."""
    return sorted(MAPPERS.names())


def create_mapper(name: str, **kwargs: Any) -> Mapper:
    """Instantiate the mapper registered as ``name`` with ``kwargs`` (an unknown name is an ``InjectError``)."""
    return MAPPERS.get(name)(**kwargs)
