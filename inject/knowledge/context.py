"""Resolve the seen and new class names of one injection together, each side giving context to the other.

Seen names that are ImageNet-1K labels map straight to their wnids (the model's own classes). Other seen
names are resolved in two passes: first alone, then with the unambiguous ones as context. New names are
resolved against the seen synsets, then again against the new names that resolve unambiguously (their
peers); a name takes the peer-context sense only when it is nearer peers and seen synsets together, so a
set of 102 flowers pulls "bird of paradise" to the plant although ImageNet's seen birds are near the bird.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

from .resolve import Resolution, context_reach, distance, resolve_names
from .wordnet import load_wordnet


@lru_cache(maxsize=1)
def _imagenet_index() -> dict[str, str]:
    """ImageNet-1K readable name (``inject.assets.imagenet_class_names``) -> wnid."""
    from timm.data import ImageNetInfo

    from ..assets import imagenet_class_names

    return dict(zip(imagenet_class_names(), ImageNetInfo().label_names()))


@lru_cache(maxsize=1)
def _imagenet_spellings() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ImageNet-1K's labels as other libraries spell them, in class order: wnids, and the readable
    descriptions transformers shows (``tench, Tinca tinca``; "crane" twice)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.label_names()), tuple(info.label_descriptions())


def readable_names(labels: Sequence[str]) -> list[str]:
    """``labels`` with ImageNet-1K classes spelled as wnids or as transformers' descriptions replaced by the
    package's readable names (``inject.assets.imagenet_class_names``), which resolve to their own synsets and
    whose texts ship embedded; other labels unchanged. A description shared by two classes ("crane") is
    replaced only where the labels are all 1000 descriptions in order."""
    from ..assets import imagenet_class_names

    readable = imagenet_class_names()
    wnids, descriptions = _imagenet_spellings()
    if tuple(labels) in (wnids, descriptions):
        return list(readable)
    once = {d: r for d, r in zip(descriptions, readable) if descriptions.count(d) == 1}
    aliases = {**dict(zip(wnids, readable)), **once}
    return [aliases.get(label, label) for label in labels]


def imagenet_wnids(names: Sequence[str]) -> list[str] | None:
    """The wnids of ``names`` when every one is an ImageNet-1K label, else ``None``."""
    index = _imagenet_index()
    return [index[n] for n in names] if all(n in index for n in names) else None


def unambiguous(resolutions: Sequence[Resolution]) -> list[str]:
    """wnids of the resolutions that had a single candidate sense."""
    return [r.wnid for r in resolutions if r.wnid is not None and not r.alternatives]


def resolve_seen(names: Sequence[str]) -> list[Resolution]:
    """Resolutions of ``C`` seen names: ImageNet labels by their wnid, others in two context passes."""
    wnids = imagenet_wnids(names)
    if wnids is not None:
        return resolve_names(names, context=wnids)
    first = resolve_names(names)
    return resolve_names(names, context=unambiguous(first))


def resolve_new(names: Sequence[str], seen_wnids: Sequence[str | None]) -> list[Resolution]:
    """Resolutions of ``K`` new names: near the seen synsets, unless the peer sense is nearer both together.

    Peers are the new names with a single candidate sense. A name takes the sense its peers prefer only
    when that sense's hops to the nearest peer plus hops to the nearest seen synset are fewer than those of
    the seen-context sense: a coherent new set (102 flowers) overrides the seen classes, a random one
    (B1's hidden ImageNet classes) rarely does.
    """
    by_seen = resolve_names(names, context=seen_wnids)
    peers = unambiguous(by_seen)
    if not peers:
        return by_seen
    by_peers = resolve_names(names, context=peers)
    wn = load_wordnet()
    reach, seen_reach = context_reach(wn, peers), context_reach(wn, seen_wnids)

    def nearer(p: Resolution, s: Resolution) -> bool:
        def total(wnid: str) -> int:
            return distance(wn, wnid, reach) + distance(wn, wnid, seen_reach)

        return p.wnid != s.wnid and total(p.wnid) < total(s.wnid)

    return [p if nearer(p, s) else s for p, s in zip(by_peers, by_seen)]


def resolve_classes(
    seen_names: Sequence[str], new_names: Sequence[str]
) -> tuple[list[Resolution], list[Resolution]]:
    """(``C`` seen, ``K`` new) resolutions, the new ones in the seen and peer context."""
    seen = resolve_seen(seen_names)
    return seen, resolve_new(new_names, [r.wnid for r in seen])
