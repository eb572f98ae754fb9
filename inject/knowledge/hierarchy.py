"""Class descriptors from the WordNet noun hierarchy: one "ancestor bag" vector per synset.

The bag of synset ``s`` has one entry per ancestor ``a`` of ``s`` (``s`` itself included), weighted
``decay ** hops(s, a) * IC(a)``, then L2-normalised. ``IC(a) = log(N / descendants(a))`` is the intrinsic
information content of ``a`` over all ``N`` WordNet noun synsets (Seco et al. 2004): the root ``entity``
weighs 0, a broad category like ``animal`` little, ``dog`` more and a leaf the most, so sharing a rare
ancestor says more than sharing a common one. It is computed over the whole hierarchy rather than the
given set, so a synset's weights do not change with the classes it is described alongside.

With the default ``decay=0.8``, cosines are about 0.45-0.7 for siblings (two corgis; two albatrosses),
about 0.1 for cousins (a corgi and a wolf or a tabby), about 0.01 for a dog and a bird, 0 for a dog and
a car. Columns are the ancestors of the synsets given together, so seen and new classes must be
described in one call (or compared with ``hierarchy_similarity``).

Memory: ``N`` synsets have ``V`` ancestors between them (``V`` about 23,500 for ImageNet-21K's 21,843,
so a dense ``[N, V]`` bag matrix would take about 2 GB). When the first ``seen`` rows are the seen
classes and ``N * V`` exceeds ``DENSE_LIMIT``, the columns are the seen rows' ancestors plus one
``rest`` column: each row keeps its (unit-norm) bag's entries on the seen ancestors and puts the norm
of the remainder in ``rest``. Seen rows are exact (``rest`` 0); every cosine of a row with a seen row is
exact, which is all that ``conse``, the rehearsal and the calibration use; and a linear map fitted on
the seen rows sees the same coordinates. Only cosines between two new rows change (their remainders
meet in ``rest``), which matters only to transductive mappers, and only above the limit.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ..errors import InjectError
from .wordnet import WordNet, load_wordnet

DEFAULT_DECAY = 0.8
DENSE_LIMIT = 2**25  # N * V entries (128 MB) above which descriptors are projected on the seen ancestors


def hierarchy_descriptors(
    wnids: Sequence[str | None], decay: float = DEFAULT_DECAY, seen: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ancestor-bag descriptors of ``N`` synsets over the ``V`` ancestors they have between them.

    Args:
        wnids: ``N`` WordNet 3.0 noun wnids; ``None`` for a class without a synset.
        decay: weight factor per hypernym hop, in ``(0, 1]``.
        seen: how many of the first ``wnids`` are seen classes; with it, ``N * V > DENSE_LIMIT`` gives
            the compact ``[N, V_seen + 1]`` form (see the module doc), exact against the seen rows.

    Returns:
        ``(descriptors, resolved)``: float32 ``[N, V]`` with unit-norm rows (zero rows where unresolved)
        and bool ``[N]``, true where the row has a synset. ``V`` is at least 1.

    Raises:
        InjectError: ``decay`` is outside ``(0, 1]`` or an entry is neither ``None`` nor a noun wnid.
    """
    if not 0 < decay <= 1:
        raise InjectError(f"decay must be in (0, 1], got {decay}")
    wn = load_wordnet()
    _check_wnids(wn, wnids)
    bags = [_unit(_bag(wn, wnid, decay)) if wnid is not None else {} for wnid in wnids]
    every = sorted({a for bag in bags for a in bag})
    compact = seen is not None and len(wnids) * len(every) > DENSE_LIMIT
    kept = sorted({a for bag in bags[:seen] for a in bag}) if compact else every
    columns = {a: j for j, a in enumerate(kept)}
    descriptors = torch.zeros(len(wnids), max(len(columns) + compact, 1))
    for i, bag in enumerate(bags):
        inside = {columns[a]: w for a, w in bag.items() if a in columns}
        if inside:
            descriptors[i, list(inside)] = torch.tensor(list(inside.values()))
        if compact and bag:
            descriptors[i, -1] = max(0.0, 1.0 - sum(w * w for w in inside.values())) ** 0.5
    resolved = torch.tensor([wnid is not None for wnid in wnids], dtype=torch.bool)
    return F.normalize(descriptors, dim=1), resolved


def hierarchy_similarity(
    new_wnids: Sequence[str | None], seen_wnids: Sequence[str | None], decay: float = DEFAULT_DECAY
) -> torch.Tensor:
    """Cosines ``[K, C]`` between the ancestor bags of ``K`` new and ``C`` seen synsets (0 where either is ``None``)."""
    descriptors, _ = hierarchy_descriptors([*new_wnids, *seen_wnids], decay)
    return descriptors[: len(new_wnids)] @ descriptors[len(new_wnids):].T


def _bag(wn: WordNet, wnid: str, decay: float) -> dict[str, float]:
    """Ancestor -> ``decay ** hops * IC(ancestor)`` for one synset; the root (IC 0) is left out."""
    bag = {a: decay**hops * wn.information_content(a) for a, hops in wn.ancestors(wnid).items()}
    return {a: weight for a, weight in bag.items() if weight > 0}


def _unit(bag: dict[str, float]) -> dict[str, float]:
    """``bag`` scaled to unit L2 norm (empty stays empty)."""
    norm = sum(w * w for w in bag.values()) ** 0.5
    return {a: w / norm for a, w in bag.items()} if norm > 0 else {}


def _check_wnids(wn: WordNet, wnids: Sequence[str | None]) -> None:
    """Raise for the first entry that is neither ``None`` nor a WordNet 3.0 noun wnid."""
    for i, wnid in enumerate(wnids):
        if wnid is not None and wnid not in wn:
            raise InjectError(f"synset #{i + 1} '{wnid}' is not a WordNet 3.0 noun wnid (n + eight-digit offset)")
