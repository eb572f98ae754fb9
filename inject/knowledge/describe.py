"""Class descriptors from several knowledge sources, and their combination.

Sources (each one unit-norm vector per class, seen ``[C, E_s]`` and new ``[K, E_s]``):

* ``name``: the sentence encoder on the prompt-template ensemble of the name (``inject.semantics``);
* ``gloss``: the encoder on ``"lemmas: gloss"`` of the resolved synset (``"name, a kind of lemmas: gloss"``
  when only the head noun resolved; the name alone when nothing did);
* ``parent``: the encoder on ``"name, a kind of parent: parent's gloss"`` (the nearest hypernym);
* ``hierarchy``: IC-weighted WordNet ancestor bags (``hierarchy_descriptors``); zero rows when unresolved.

A user's descriptions of a class join its ``gloss`` row only, all of them together as one text
(``with_descriptions``): they are descriptive sentences like the seen classes' glosses, so the ``gloss``
source compares like with like; a ``name`` row of a new class stays its name, as every seen one is. Averaged
into both rows, each line weighing as much as the name, CUB's short descriptors and the Oxford flowers'
sentences cost top-1 (docs/design.md, "Descriptions that never hurt").

Text sources are centred (the mean seen embedding subtracted, then re-normalised): sentence embeddings
of class texts share a large common direction ("a photo of ...", "any of various ..."), which keeps all
cosines high and close; removing it lets the nearest seen classes stand out (B1 ZSL +0.01 to +0.02).

``combine`` scales each source by the square root of its weight and concatenates: the cosine of two
combined descriptors is the weighted mean of their per-source cosines. ``rehearse``
(``inject.knowledge.weights``) chooses the weights on the seen classes only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from ..errors import InjectError
from ..semantics import TextEncoder, encode_names, encode_texts, resolve_encoder
from .context import resolve_classes
from .hierarchy import hierarchy_descriptors
from .resolve import BRACKETED, Resolution
from .sense import check_senses
from .wordnet import load_wordnet

SOURCES = ("name", "gloss", "parent", "hierarchy")
DEFAULT_SOURCES = ("name", "gloss", "hierarchy")


@dataclass(frozen=True)
class Described:
    """Per-source descriptors of both sides.

    Attributes:
        seen_names / new_names: ``C`` / ``K`` class names.
        seen_resolutions / new_resolutions: their WordNet resolutions.
        seen / new: source -> float32 ``[C, E_s]`` / ``[K, E_s]``, rows unit-norm (or zero: unresolved).
        seconds: wall time of ``resolve`` and of each source.
    """

    seen_names: list[str]
    new_names: list[str]
    seen_resolutions: list[Resolution]
    new_resolutions: list[Resolution]
    seen: dict[str, torch.Tensor]
    new: dict[str, torch.Tensor]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.seen)


def name_text(resolution: Resolution) -> str:
    """The name the ``name`` source encodes: the line, but for a synset line (``n02510455`` or
    ``giant panda (n02510455)``) the name given, else the synset's first lemma."""
    if resolution.how != "wnid":
        return resolution.name
    bracketed = BRACKETED.fullmatch(" ".join(resolution.name.split()))
    return bracketed[1] if bracketed else resolution.lemmas[0]


def gloss_text(resolution: Resolution) -> str:
    """``"lemmas: gloss"`` of a resolved name (the name first when only its head noun resolved); else the name."""
    if resolution.wnid is None:
        return resolution.name
    lemmas = ", ".join(resolution.lemmas)
    if resolution.how == "head noun":
        return f"{resolution.name}, a kind of {lemmas}: {resolution.gloss}"
    return f"{lemmas}: {resolution.gloss}"


def parent_text(resolution: Resolution) -> str:
    """``"name, a kind of parent: parent's gloss"`` (nearest hypernym); the gloss text when there is none."""
    wn = load_wordnet()
    parents = wn.hypernyms(resolution.wnid) if resolution.wnid is not None else ()
    if not parents:
        return gloss_text(resolution)
    label = resolution.lemmas[0] if resolution.how != "head noun" else resolution.name
    return f"{label}, a kind of {wn.lemmas(parents[0])[0]}: {wn.gloss(parents[0])}"


def with_descriptions(
    base: torch.Tensor, names: Sequence[str], descriptions: Mapping[str, Sequence[str]], encoder: TextEncoder
) -> torch.Tensor:
    """``base`` ``[N, E]`` with each described class's row joined by its user texts as one text: the row plus
    the re-normalised mean of the texts' embeddings, re-normalised (the texts weigh together as much as the
    row, however many lines the user wrote)."""
    rows = base.clone()
    for i, name in enumerate(names):
        texts = list(descriptions.get(name, ()))
        if texts:
            rows[i] = F.normalize(base[i] + F.normalize(encode_texts(texts, encoder).mean(0), dim=0), dim=0)
    return rows


def _text_source(
    source: str, names: list[str], resolutions: list[Resolution], encoder: TextEncoder,
    descriptions: Mapping[str, Sequence[str]], progress: bool,
) -> torch.Tensor:
    """``[N, E]`` embeddings of one text source (``name``, ``gloss`` or ``parent``) for ``N`` classes."""
    if source == "name":
        encoded = encode_names([name_text(r) for r in resolutions], encoder, progress=progress)
    else:
        texts = [gloss_text(r) if source == "gloss" else parent_text(r) for r in resolutions]
        encoded = encode_texts(texts, encoder, progress=progress,
                               label=lambda missing: f"encoding {len(missing)} {source} texts")
    return with_descriptions(encoded, names, descriptions, encoder) if source == "gloss" else encoded


def describe_classes(
    seen_names: Sequence[str],
    new_names: Sequence[str],
    encoder: "str | TextEncoder | Any | None" = None,
    descriptions: Mapping[str, Sequence[str]] | None = None,
    sources: Sequence[str] = DEFAULT_SOURCES,
    progress: bool = False,
    center: bool = True,
) -> Described:
    """Resolve ``C`` seen and ``K`` new names to WordNet and describe both sides by every source in ``sources``.

    Args:
        encoder: sentence encoder (``None``: the packaged MiniLM); texts are cached on disk.
        descriptions: ``{name: [free texts]}``, encoded and joined to that class's ``gloss`` row as one text.
        center: subtract the mean seen row of each text source (then re-normalise).

    Returns:
        ``Described`` with seen ``[C, E_s]`` and new ``[K, E_s]`` per source.
    """
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise InjectError(f"unknown descriptor source(s) {unknown}; choose from {', '.join(SOURCES)}")
    seen_names, new_names = list(seen_names), list(new_names)
    text_encoder, descriptions = resolve_encoder(encoder), dict(descriptions or {})
    start = time.perf_counter()
    seen_res, new_res = resolve_classes(seen_names, new_names)
    new_res = check_senses(new_res, seen_res, descriptions, text_encoder)
    seconds, seen, new = {"resolve": time.perf_counter() - start}, {}, {}
    names, resolutions = seen_names + new_names, seen_res + new_res
    for source in sources:
        start = time.perf_counter()
        if source == "hierarchy":
            both, _ = hierarchy_descriptors([r.wnid for r in resolutions], seen=len(seen_names))
        else:
            both = _text_source(source, names, resolutions, text_encoder, descriptions, progress)
            if center:
                both = F.normalize(both - both[: len(seen_names)].mean(0), dim=1)
        seen[source], new[source] = both[: len(seen_names)], both[len(seen_names):]
        seconds[source] = time.perf_counter() - start
    return Described(seen_names, new_names, seen_res, new_res, seen, new, seconds)


def _parts(parts: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """Concatenation ``[N, sum E_s]`` of ``sqrt(w_s) * part_s`` over the sources with a positive weight, re-normalised."""
    total = sum(max(0.0, float(w)) for w in weights.values())
    if total <= 0:
        raise InjectError("source weights must have a positive sum")
    chosen = [(s, float(w) / total) for s, w in weights.items() if w > 0]
    return F.normalize(torch.cat([parts[s].float() * w**0.5 for s, w in chosen], dim=1), dim=1)


def combine(described: Described, weights: Mapping[str, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(seen ``[C, E]``, new ``[K, E]``) descriptors: weighted concatenation of the unit-norm sources.

    The cosine of two combined rows is the ``weights``-weighted mean of the per-source cosines (sources
    where a row is zero drop out of that row's norm). Weights need not sum to 1; zero drops a source.
    """
    missing = [s for s in weights if s not in described.seen]
    if missing:
        raise InjectError(f"weights name source(s) {missing} that were not described ({', '.join(described.sources)})")
    return _parts(described.seen, weights), _parts(described.new, weights)
