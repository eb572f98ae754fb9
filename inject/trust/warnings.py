"""Warnings with remedies: one line per new class that is expected near chance or whose name was read oddly.

Each warning is a dict ``{"class", "kind", "reason", "remedy", "message"}``; ``message`` is the one line the
CLI prints. Kinds:

* ``sense``: a head-noun match set aside by the sense check (``inject.knowledge.sense``);
* ``instance``: the name was taken as one particular person, place or thing (a WordNet instance, such as
  ``Garfield`` -> the 20th US President), rarely what a photo class means;
* ``near chance``: ``near_chance >= 0.5`` in the estimate; the reason is the first that applies of: another
  new class resolved to the same synset by its head noun; another new class has nearly the same row; the
  name resolved only by its head noun; the model's own class is the same synset; no seen class is near; the
  nearest seen classes disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .signals import SIGNALS

FLAG = 0.5  # near_chance at which a class is warned about
SHOWN = 25  # warning lines printed (the CLI) or raised (the API) at most; the record keeps them all
TWIN = 0.95  # cosine of two new rows above which their photos cannot be told apart
FAR = 0.1  # quantile of the rehearsal's nearest-description cosines below which no seen class is near


@dataclass(frozen=True)
class ClassFacts:
    """What the warnings say about one new class: ``name``, its synset ``wnid`` (or ``None``), ``how`` it was
    found, ``lemma`` (the synset's first lemma), ``gloss``, ``rejected`` (a sense set aside), ``instance`` (the
    synset is a WordNet instance), ``seen_twin`` (the seen class of the same synset) and ``nearest_seen``."""

    name: str
    wnid: str | None = None
    how: str = "none"
    lemma: str = ""
    gloss: str = ""
    rejected: str | None = None
    instance: bool = False
    seen_twin: str | None = None
    nearest_seen: tuple[str, ...] = ()


def _warning(facts: ClassFacts, kind: str, reason: str, remedy: str, lead: str = "") -> dict[str, Any]:
    return {"class": facts.name, "kind": kind, "reason": reason, "remedy": remedy,
            "message": f"'{facts.name}': {lead}{reason}: {remedy}"}


def _short(gloss: str, words: int = 8) -> str:
    """The first ``words`` words of a gloss, with an ellipsis when cut."""
    parts = gloss.split(";")[0].split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def _odd_reading(facts: ClassFacts, rejected_lemma: str, rejected_gloss: str) -> dict[str, Any] | None:
    """A ``sense`` or ``instance`` warning when the name was read oddly, else ``None``."""
    if facts.rejected is not None:
        taken = f"taken as '{facts.lemma}' instead" if facts.wnid else "described by its text alone"
        return _warning(facts, "sense", f"its head noun means '{rejected_lemma}' ({_short(rejected_gloss)}), which its "
                        f"text does not read as; {taken}", "give a WordNet id or a description if that is wrong")
    if facts.instance:
        return _warning(facts, "instance", f"taken as '{facts.lemma}' ({_short(facts.gloss)}), one particular "
                        "person, place or thing", "give a WordNet id or a description if you meant something else")
    return None


def _near_chance_reason(facts: ClassFacts, twin: str, twin_cosine: float, same_synset: str | None,
                        far: bool) -> tuple[str, str]:
    """(reason, remedy) of a class expected near chance: the first that applies (module doc)."""
    if same_synset is not None and facts.how == "head noun":
        return (f"resolved only by its head noun '{facts.lemma}', like '{same_synset}' (new)",
                "give a WordNet id or a description")
    if twin_cosine >= TWIN:
        return f"indistinguishable from '{twin}' (new)", "add photos of both"
    if facts.how == "head noun":
        return f"resolved only by its head noun '{facts.lemma}'", "give a WordNet id or a description"
    if facts.seen_twin is not None:
        return f"the model's own class '{facts.seen_twin}' is the same synset", "its photos may go there; add photos"
    if far:
        return "no seen class is near", "expect chance; a few photos help most"
    nearest = ", ".join(facts.nearest_seen[:3]) or "its nearest seen classes"
    return f"its nearest seen classes ({nearest}) disagree about how it looks", "a few photos help most"


def class_warnings(
    facts: Sequence[ClassFacts], estimate: Any, twins: Any, far_below: float,
    rejected_text: dict[str, tuple[str, str]],
) -> list[dict[str, Any]]:
    """Warnings for the new classes, at most one per class (an odd reading first).

    Args:
        facts: one ``ClassFacts`` per new class, in order; estimate: their ``inject.trust.estimate.Estimate``.
        twins: the nearest other new row of each (``inject.trust.signals.nearest_others``); far_below: the nearest-description cosine under which no seen
            class counts as near; rejected_text: rejected wnid -> (its first lemma, its gloss).
    """
    nearest_description = estimate.signals[:, SIGNALS.index("nearest_description")]
    synset_peers: dict[str | None, list[str]] = {}
    for item in facts:
        synset_peers.setdefault(item.wnid, []).append(item.name)
    out = []
    for k, item in enumerate(facts):
        odd = _odd_reading(item, *rejected_text.get(item.rejected, ("", ""))) if item.rejected or item.instance else None
        if odd is not None:
            out.append(odd)
            continue
        if float(estimate.near_chance[k]) < FLAG:
            continue
        twin, cosine = int(twins.nearest[k]), float(twins.cosine[k])
        same = synset_peers.get(item.wnid, [])
        same = next((name for name in same if name != item.name), None) if item.wnid is not None else None
        reason, remedy = _near_chance_reason(item, facts[twin].name if twin >= 0 else "", cosine, same,
                                             float(nearest_description[k]) < far_below)
        lead = f"expected top-1 {float(estimate.expected_top1[k]):.2f} (chance {estimate.chance:.2f}); "
        out.append(_warning(item, "near chance", reason, remedy, lead))
    return out


def shown_lines(found: Sequence[dict[str, Any]], limit: int = SHOWN) -> list[str]:
    """The warnings' messages, at most ``limit`` of them and then one line saying how many more the record holds."""
    lines = [item["message"] for item in found[:limit]]
    more = len(found) - limit
    return lines + ([f"... and {more} more in the output record's 'warnings'"] if more > 0 else [])
