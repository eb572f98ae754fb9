"""How often the sense check (``inject.knowledge.sense``) sets a head-noun match aside, right and wrong.

A large set where the right answer is known: every ImageNet-21K lemma of two or more words, read as if
WordNet lacked it, so that it resolves by its head noun as a user's unknown compound would (the trailing
words that are a lemma; among their senses the one nearest the ImageNet-1K classes, as ``inject`` picks).
The match is right when the chosen sense is an ancestor of the lemma's own synset, and of another kind when
the two synsets share none of the sense check's categories. The check runs as ``inject`` runs it (the
default encoder, the threshold set on the ImageNet-1K names). Beside it: how many CUB-50 and Flowers-102
names it sets aside, and a few names by hand.

    python -m benchmarks.senses [--json OUT]
"""
from __future__ import annotations

from pathlib import Path

from benchmarks.block import block_main
from benchmarks.cub import cub_features
from benchmarks.names import flowers_features
from inject import assets
from inject.knowledge.context import resolve_new, resolve_seen
from inject.knowledge.resolve import Resolution, context_reach, distance, lookup, spellings
from inject.knowledge.sense import check_senses, kinds, threshold
from inject.knowledge.sets import imagenet21k_wnids, model_wnids
from inject.knowledge.wordnet import fold, load_wordnet
from inject.semantics import resolve_encoder

BY_HAND = ["sugar glider", "tiger barb", "chocolate lab", "snow leopard cub", "lamb's ear", "Crested Auklet"]
DESCRIBED = {"chocolate lab": ["a brown Labrador retriever dog"], "sugar glider": ["a small gliding possum"]}


def compound_cases() -> tuple[list[Resolution], list[bool]]:
    """(head-noun resolutions of the ImageNet-21K compounds, whether each is right); only right ones and ones of
    another kind are kept (a sense of the same kind but not an ancestor is neither)."""
    wn, reach = load_wordnet(), context_reach(load_wordnet(), model_wnids(None))
    resolutions, right = [], []
    for wnid in imagenet21k_wnids():
        lemma = wn.lemmas(wnid)[0] if wnid in wn else ""
        words = fold(lemma).split()
        found = next((lookup(wn, s) for start in range(1, len(words)) for s in spellings(wn, words[start:])
                      if lookup(wn, s)), None)
        if not found:
            continue
        chosen = min(found, key=lambda c: (distance(wn, c, reach), found.index(c)))
        is_right = chosen in wn.ancestors(wnid)
        if not kinds(chosen) or (not is_right and kinds(chosen) & kinds(wnid)):
            continue
        resolutions.append(Resolution(lemma, chosen, "head noun", wn.gloss(chosen), wn.lemmas(chosen),
                                      tuple(c for c in found if c != chosen)))
        right.append(is_right)
    return resolutions, right


def set_aside(resolutions: list[Resolution], descriptions: dict | None = None) -> list[bool]:
    """Whether the sense check changes each resolution (against the ImageNet-1K seen names)."""
    seen = resolve_seen(list(assets.imagenet_class_names()))
    checked = check_senses(resolutions, seen, descriptions or {}, resolve_encoder(None))
    return [c.rejected is not None for c in checked]


def run(data: Path) -> dict:
    resolutions, right = compound_cases()
    flagged = set_aside(resolutions)
    out = {"threshold": threshold(resolve_seen(list(assets.imagenet_class_names())), resolve_encoder(None)),
           "right": sum(right), "other_kind": len(right) - sum(right),
           "right_set_aside": sum(f for f, r in zip(flagged, right) if r),
           "other_kind_set_aside": sum(f for f, r in zip(flagged, right) if not r)}
    cub = [s.split(".", 1)[1].replace("_", " ") for s in cub_features(data)[2]]
    for name, names in (("CUB-50", cub), ("Flowers-102", flowers_features(data)[2])):
        head_noun = [r for r in resolve_new(names, model_wnids(None)) if r.how == "head noun"]
        out[name] = {"head_noun": len(head_noun), "set_aside": sum(set_aside(head_noun))}
    hand = resolve_new(BY_HAND, model_wnids(None))
    out["by_hand"] = {r.name: bool(f) for r, f in zip(hand, set_aside(hand))}
    out["by_hand_described"] = {r.name: bool(f) for r, f in zip(hand, set_aside(hand, DESCRIBED)) if r.name in DESCRIBED}
    return out


def tables(found: dict) -> str:
    right, other = found["right"], found["other_kind"]
    lines = [f"Threshold (default encoder, ImageNet-1K names): {found['threshold']:.3f}.", "",
             "| head-noun matches | count | set aside |", "|---|---|---|",
             f"| ImageNet-21K compounds, right sense | {right} | {found['right_set_aside']} "
             f"({found['right_set_aside'] / max(right, 1):.3f}) |",
             f"| ImageNet-21K compounds, sense of another kind | {other} | {found['other_kind_set_aside']} "
             f"({found['other_kind_set_aside'] / max(other, 1):.3f}) |"]
    lines += [f"| {k} names resolved by head noun | {found[k]['head_noun']} | {found[k]['set_aside']} |"
              for k in ("CUB-50", "Flowers-102")]
    lines += ["", "By hand (set aside?): " + ", ".join(f"{k}: {v}" for k, v in found["by_hand"].items()),
              "With a description: " + ", ".join(f"{k} ({DESCRIBED[k][0]}): {v}" for k, v in found["by_hand_described"].items())]
    return "\n".join(lines)


def main() -> None:
    block_main(__doc__, run, tables)


if __name__ == "__main__":
    main()
