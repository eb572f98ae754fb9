"""Class names -> WordNet 3.0 noun synsets.

A line is a wnid (``n02391049``), ``name (n02391049)``, ``name (a few gloss words)`` (how ImageNet-1K
labels tell the two cranes apart) or a plain name. A plain name is tried, in order:

1. ``exact``: a lemma spelled exactly so, case included (``Cardigan`` the corgi, ``cardigan`` the sweater);
2. ``normalised``: case, ``_``/``-``/spaces, articles, possessives (``Brewer Spruce`` -> Brewer's spruce,
   ``colts foot`` -> coltsfoot, ``love in the mist`` -> love-in-a-mist) and plurals (WordNet's morphy rules
   and ``noun.exc``) folded;
3. ``head noun``: the longest trailing run of words that is a lemma (``Crested Auklet`` -> auklet);
4. ``none``: WordNet has no such noun (``wnid`` is ``None``).

Among the candidate senses of the first step that finds any, the pick is, in order of precedence:
the sense whose gloss and lemmas (its own and its ancestors') share the most words with a bracketed hint;
the sense whose head (first) lemma the name is (``polecat`` is the polecat, not the skunk also called so);
the sense nearest the ``context`` synsets; the most frequent (WordNet's sense rank). Nearest: the fewest
is-a hops from the candidate to any context synset through a common ancestor (a nearest-neighbour
criterion: one context class of the right kind is enough; a candidate that is itself in the context is
at 0). Checked on ImageNet-1K's labels: 843/1000 resolve to their own synset without context, 1000/1000
with the 1000 wnids as context and 939/1000 with the other 999 as context (leave-one-out).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from ..errors import InjectError
from .wordnet import WNID, WordNet, fold, load_wordnet

BRACKETED = re.compile(r"(.+?)\s*\(([^()]+)\)")
NOT_LETTERS = re.compile(r"[\W_]+")
POSSESSIVE = re.compile(r"'s\b")
HINT_STOPWORDS = frozenset({"the", "and", "for", "with", "that", "from", "its", "any", "one"})
ARTICLES = frozenset({"a", "an", "the"})
FAR = 10**6  # distance to an empty context: every candidate ties


@dataclass(frozen=True)
class Resolution:
    """How one class name maps to a synset.

    Attributes:
        name: the line as given.
        wnid: the chosen synset, or ``None`` when WordNet has no such noun.
        how: ``"wnid"``, ``"exact"``, ``"normalised"``, ``"head noun"``, ``"none"``, or ``"text only"`` (a
            head-noun sense that disagreed with the name's text, ``inject.knowledge.sense``).
        gloss: the synset's definition (``""`` when unresolved).
        lemmas: the synset's lemmas.
        alternatives: the other candidate senses, most frequent first.
        rejected: the head-noun sense the sense check set aside, if any.
    """

    name: str
    wnid: str | None
    how: str
    gloss: str = ""
    lemmas: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    rejected: str | None = None


def resolve_names(names: Sequence[str], context: Sequence[str | None] | None = None) -> list[Resolution]:
    """One ``Resolution`` per name, in order; ``context``: wnids that ambiguous names should be near.

    Raises:
        InjectError: a name is not a string, or a context entry is not a WordNet 3.0 noun wnid
        (``None`` entries, e.g. unresolved seen classes, are skipped).
    """
    wn = load_wordnet()
    reach = context_reach(wn, context or [])
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise InjectError(f"class name #{i + 1} is a {type(name).__name__}, not a string")
    return [_resolve(wn, name, reach) for name in names]


def exact_senses(name: str) -> frozenset[str]:
    """Synsets that have ``name`` as a lemma spelled exactly so, case included (``Cardigan``: the corgi)."""
    wn = load_wordnet()
    spelled = " ".join(name.replace("_", " ").split())
    return frozenset(c for c in wn.senses(spelled) if spelled in wn.lemmas(c))


def context_reach(wn: WordNet, context: Sequence[str | None]) -> dict[str, int]:
    """Ancestor wnid -> its fewest hops up from any context synset (``{}`` for no context)."""
    reach: dict[str, int] = {}
    for wnid in context:
        if wnid is None:
            continue
        if wnid not in wn:
            raise InjectError(f"context entry '{wnid}' is not a WordNet 3.0 noun wnid (n + eight-digit offset)")
        for ancestor, hops in wn.ancestors(wnid).items():
            reach[ancestor] = min(hops, reach.get(ancestor, hops))
    return reach


def _resolve(wn: WordNet, line: str, reach: dict[str, int]) -> Resolution:
    """The ``Resolution`` of one line."""
    text = " ".join(line.split())
    name, hint = text, ""
    bracketed = BRACKETED.fullmatch(text)
    if bracketed:
        name, hint = bracketed[1], bracketed[2].strip()
    wnid = text if WNID.fullmatch(text) else hint if WNID.fullmatch(hint) else None
    if wnid is not None:
        return _result(wn, line, wnid, "wnid", []) if wnid in wn else Resolution(line, None, "none")
    how, spelling, candidates, pool = _candidates(wn, name)
    if not candidates:
        return Resolution(line, None, "none")
    words, keys = _hint_words(hint), squash_forms(spelling)

    def preference(c: str) -> tuple[int, int, int, int]:
        return -_hint_overlap(wn, c, words), _lemma_position(wn, c, keys), distance(wn, c, reach), candidates.index(c)

    best = min(candidates, key=preference)
    return _result(wn, line, best, how, [c for c in pool if c != best])


def _result(wn: WordNet, line: str, wnid: str, how: str, alternatives: list[str]) -> Resolution:
    return Resolution(line, wnid, how, wn.gloss(wnid), wn.lemmas(wnid), tuple(alternatives))


def _candidates(wn: WordNet, name: str) -> tuple[str, str, list[str], list[str]]:
    """(how, spelling found, senses to choose from, all senses found) for a plain name; ``how`` "none" if none."""
    folded = wn.senses(name)
    exact = [c for c in folded if name.replace("_", " ") in wn.lemmas(c)]
    if exact:
        return "exact", name, exact, folded
    words = fold(name).split()
    for start, how in [(0, "normalised"), *((i, "head noun") for i in range(1, len(words)))]:
        for spelling in spellings(wn, words[start:]):
            found = lookup(wn, spelling)
            if found:
                return how, spelling, found, found
    return "none", name, [], []


def spellings(wn: WordNet, words: list[str]) -> list[str]:
    """Folded spellings to try for ``words``: as given, then with the last word (or the phrase) singular."""
    if not words:
        return []
    head, last = " ".join(words[:-1]), words[-1]
    singular = [f"{head} {base}".strip() for base in wn.base_forms(last)]
    return list(dict.fromkeys([" ".join(words), *singular, *wn.base_forms(" ".join(words))]))


def lookup(wn: WordNet, spelling: str) -> list[str]:
    """Senses of a folded spelling, or of the lemmas that equal it up to apostrophes, spaces and articles."""
    found = wn.senses(spelling)
    if found:
        return found
    index = _squashed_index(wn)
    keys = [key for form in squash_forms(spelling) for key in index.get(form, [])]
    return list(dict.fromkeys(sense for key in keys for sense in wn.senses(key)))


def squash_forms(text: str) -> set[str]:
    """Spelling-insensitive forms of ``text``: folded, articles, apostrophes, spaces and punctuation dropped,
    a possessive ``'s`` kept and dropped: ``Brewer's spruce`` -> {``brewersspruce``, ``brewerspruce``}."""
    words = fold(text).split()
    kept = " ".join(w for w in words if w not in ARTICLES) if len(words) > 1 else " ".join(words)
    forms = (kept, POSSESSIVE.sub("", kept)) if "'s" in kept else (kept,)
    return {NOT_LETTERS.sub("", form) for form in forms}


@lru_cache(maxsize=1)
def _squashed_index(wn: WordNet) -> dict[str, list[str]]:
    """Each of ``squash_forms(key)`` -> the folded lemma keys that have it (built on first use, ~0.5 s)."""
    index: dict[str, list[str]] = {}
    for key in wn.lemma_keys():
        for form in squash_forms(key):
            index.setdefault(form, []).append(key)
    return index


def _hint_words(hint: str) -> frozenset[str]:
    """Content words of a bracketed hint such as ``large long-necked wading bird``."""
    return frozenset(w for w in re.findall(r"[a-z0-9]+", hint.casefold()) if len(w) > 2 and w not in HINT_STOPWORDS)


def _hint_overlap(wn: WordNet, wnid: str, words: frozenset[str]) -> int:
    """How many hint ``words`` occur in the gloss of ``wnid`` or the lemmas of it and its ancestors."""
    if not words:
        return 0
    text = " ".join([wn.gloss(wnid), *(lemma for a in wn.ancestors(wnid) for lemma in wn.lemmas(a))])
    return len(words & set(re.findall(r"[a-z0-9]+", text.casefold())))


def _lemma_position(wn: WordNet, wnid: str, keys: set[str]) -> int:
    """Where the name (as ``squash_forms``) stands among the synset's lemmas: 0 when it is the head lemma."""
    lemmas = wn.lemmas(wnid)
    return next((i for i, lemma in enumerate(lemmas) if squash_forms(lemma) & keys), len(lemmas))


def distance(wn: WordNet, wnid: str, reach: dict[str, int]) -> int:
    """Fewest is-a hops from ``wnid`` to a context synset via a common ancestor (``FAR`` without context)."""
    return min((hops + reach[a] for a, hops in wn.ancestors(wnid).items() if a in reach), default=FAR)
