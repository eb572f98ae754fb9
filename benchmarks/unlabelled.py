"""Unsorted photos: a pile of unlabelled photos of the new classes adapts the rows and sets the offset.

CUB-200 species 001-050 and Flowers-102 on the real EfficientNet-Lite0, transductive protocol: in each
seeded draw, half of each class's photos go, unlabelled and pooled, into the pile that adapts the rows
(``inject(model, names, unlabelled=pile)``); the other half are the test photos. No photo is on both sides.
Scored as the few-shot block scores (``benchmarks.fewshot.scores``): ZSL, S / U / H over 1000 + K classes
with the ImageNet sample photos as the seen side, H oracle (best offset on the test photos), S drop.

* Methods: names only (the default, image-free offset); the product (``inject.unlabelled``); and the
  research variants of ``benchmarks.transductive`` (the text rows with the pile's offset, self-training,
  soft EM, k-means from the text argmax, fixed pulls).
* Drift: the class a row serves is the one whose test photos it takes most often. Per method: classes whose
  row serves them (text rows / adapted rows), classes lost (the text row served them, the adapted one does
  not) and gained, and swapped pairs (row k serves j and row j serves k).
* Naming ceiling: the pile's top-1 if its clusters were the true classes, named one-to-one by the text rows.
* Mixed pile: photos of seen classes (ImageNet samples from a seeded half of the 1000) make 10% of the pile;
  S on the other half, for the clean and the mixed pile.
* Labelled + unlabelled: half the classes (seeded) get 2 labelled photos each (``images=``), the pile holds
  the other half's pile photos; ZSL over all classes and per half, against the labelled photos alone.
* Time: one cold ``inject-classes --unlabelled-images`` process, 50 classes x 30 photos, with the load average.

    python -m benchmarks.unlabelled [--data DIR] [--seeds 3] [--sets CUB-50 Flowers-102] [--json OUT] [--no-cli]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from benchmarks.fewshot import cli_seconds, draw, photo_set, scores, summary, text_side
from benchmarks.heldout import imagenet_features
from benchmarks.transductive import VARIANTS, naming_ceiling
from inject import assets
from inject.metrics import per_class_accuracy
from inject.photos.apply import shape
from inject.rows import head_rows
from inject.unlabelled.apply import Knowledge, adapt
from inject.unlabelled.rehearsal import choose_strength
from inject.unlabelled.report import LOW_AGREEMENT

METHODS = ("names only", "product", *VARIANTS)
MIXED_SHARE = 0.1  # of the mixed pile
LABELLED = 2  # labelled photos per class of the labelled half


def prepare(data: Path, which: str) -> dict:
    """Features (the photo as the head sees it), labels, names, the text side and the seen side of one set."""
    seen_features, seen_labels, weight, bias = imagenet_features(data)
    features, labels, names = photo_set(data, which)
    text, known, mapper = text_side(weight, bias, names)
    seen_base = float((seen_features @ weight.T + bias).argmax(1).eq(seen_labels).float().mean())
    return {"features": features[:, 0], "labels": labels, "names": names, "text": text,
            "knowledge": Knowledge(mapper, known.seen), "seen": (seen_features, seen_labels, weight, bias, seen_base)}


def servers(features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``[K]`` the class whose photos each new row takes most often among the new classes (``-1``: none)."""
    classes = len(weight)
    predicted = (features @ weight.T + bias).argmax(1)
    taken = torch.zeros(classes, classes).index_put_((predicted, labels), torch.ones(len(labels)), accumulate=True)
    return torch.where(taken.sum(1) > 0, taken.argmax(1), -1)


def drift(before: torch.Tensor, after: torch.Tensor) -> dict:
    """Rows serving their own class before / after, classes lost and gained, swapped pairs (``servers`` of each)."""
    own = torch.arange(len(before))
    right0, right1 = before == own, after == own
    swaps = sum(1 for k in range(len(after)) if after[k] > k and after[after[k]] == k)
    return {"served_text": float(right0.sum()), "served": float(right1.sum()), "lost": float((right0 & ~right1).sum()),
            "gained": float((~right0 & right1).sum()), "swapped_pairs": float(swaps)}


def product(setup: dict, rows, features: torch.Tensor, fixed: torch.Tensor | None = None, choose_offset: bool = True):
    """What ``inject(..., unlabelled=)`` does to ``rows`` with pooled features ``[N, D]`` (``fixed``: labelled classes)."""
    weight, bias = setup["seen"][2], setup["seen"][3]
    fixed = torch.full((len(features),), -1, dtype=torch.long) if fixed is None else fixed
    return adapt(rows, weight, bias, features, fixed, setup["names"], setup["knowledge"], choose_offset)


def method_rows(setup: dict, method: str, pile: torch.Tensor, strength: float) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """New rows, biases (offset included) and what the product recorded (empty for the others); ``strength``: the
    product's rehearsed pull, which the variants use too unless they fix their own."""
    text = setup["text"]
    if method == "names only":
        return text.weight, text.bias, {}
    if method == "product":
        done = product(setup, text, pile)
        return done.rows.weight, done.rows.bias, done.record
    weight, bias = setup["seen"][2], setup["seen"][3]
    return (*VARIANTS[method](text.weight, text.bias - text.gamma, weight, bias, pile, strength), {})


def run_methods(setup: dict, seeds: int) -> dict:
    """Per method: summary over draws of the scores, drift and seconds; the naming ceiling; the product's pull."""
    out, ceiling, pulls, agreement = {}, [], [], []
    for seed in range(seeds):
        pile, test = draw(setup["labels"], 0.5, seed)
        x, y = setup["features"][test], setup["labels"][test]
        text = setup["text"]
        before = servers(x, y, text.weight, text.bias)
        ceiling.append(naming_ceiling(text.weight, text.bias, setup["features"][pile], setup["labels"][pile]))
        strength = choose_strength(setup["knowledge"].mapper, head_rows(*setup["seen"][2:4]), setup["knowledge"].descriptors,
                                   len(setup["names"]), len(pile)).strength
        for method in METHODS:
            start = time.perf_counter()
            weight, bias, record = method_rows(setup, method, setup["features"][pile], strength)
            seconds = time.perf_counter() - start
            pulls += [record["strength"]] if record else []
            served = servers(x, y, weight, bias)
            agreement += _agreement(record, served) if record else []
            out.setdefault(method, []).append({**scores(setup["seen"], x, y, weight, bias),
                                               **drift(before, served), "seconds": seconds})
            print(f"  draw {seed} {method}: " + " ".join(f"{k} {v:.3f}" for k, v in out[method][-1].items()), flush=True)
    return {"methods": {m: summary(runs) for m, runs in out.items()}, "naming_ceiling": summary([{"c": c} for c in ceiling])["c"],
            "pulls": pulls, "pile_photos": len(pile), "classes": len(setup["names"]), "agreement": _warned(agreement)}


def _agreement(record: dict, served: torch.Tensor) -> list[tuple[bool, bool]]:
    """Per class with pile photos: (the CLI would warn about its name agreement, its row serves it)."""
    return [(entry["name_agreement"] < LOW_AGREEMENT, bool(served[k] == k))
            for k, entry in enumerate(record["per_class"].values()) if entry["name_agreement"] is not None]


def _warned(pairs: list[tuple[bool, bool]]) -> dict:
    """Rows warned about / not, and how many of each serve their class (over all draws)."""
    return {"warned": sum(w for w, _ in pairs), "warned_serving": sum(w and s for w, s in pairs),
            "others": sum(not w for w, _ in pairs), "others_serving": sum(s and not w for w, s in pairs)}


def run_mixed(setup: dict, seeds: int) -> dict:
    """The product on the clean pile and on the pile with ``MIXED_SHARE`` seen photos; S on the other seen half."""
    seen_features, seen_labels, weight, bias, _ = setup["seen"]
    out: dict = {}
    for seed in range(seeds):
        pile, test = draw(setup["labels"], 0.5, seed)
        order = torch.randperm(len(seen_labels), generator=torch.Generator().manual_seed(100 + seed))
        mixable, scored = order[: len(order) // 2], order[len(order) // 2 :]
        count = round(MIXED_SHARE * len(pile) / (1 - MIXED_SHARE))
        seen_half = (seen_features[scored], seen_labels[scored], weight, bias,
                     float((seen_features[scored] @ weight.T + bias).argmax(1).eq(seen_labels[scored]).float().mean()))
        mixed_in = seen_features[mixable[:count]]
        for name, photos in (("clean", setup["features"][pile]), ("mixed", torch.cat([setup["features"][pile], mixed_in]))):
            done = product(setup, setup["text"], photos)
            row = scores(seen_half, setup["features"][test], setup["labels"][test], done.rows.weight, done.rows.bias)
            row["left_to_seen"] = done.record["left_to_seen"]
            if name == "mixed":  # the seen photos of the pile: left to the seen side, and kept in their own class
                logits = mixed_in @ torch.cat([weight, done.rows.weight]).T + torch.cat([bias, done.rows.bias])
                row["mixed_own_class"] = float((logits.argmax(1) == seen_labels[mixable[:count]]).float().mean())
                row["mixed_own_class_original"] = float(((mixed_in @ weight.T + bias).argmax(1) ==
                                                         seen_labels[mixable[:count]]).float().mean())
            out.setdefault(name, []).append(row)
    return {name: summary(runs) for name, runs in out.items()} | {"mixed_photos": count}


def _halves_zsl(features, labels, weight, bias, labelled: torch.Tensor) -> dict:
    """ZSL over all new classes, and over the labelled / unlabelled classes (``labelled`` ``[K]`` bool)."""
    predicted = (features @ weight.T + bias).argmax(1)
    on = labelled[labels]
    return {"zsl": per_class_accuracy(predicted, labels), "zsl_labelled": per_class_accuracy(predicted[on], labels[on]),
            "zsl_pile": per_class_accuracy(predicted[~on], labels[~on])}


def run_together(setup: dict, seeds: int) -> dict:
    """Labelled photos of half the classes alone, and with the other half's pile photos as the pile."""
    out: dict = {}
    classes = len(setup["names"])
    for seed in range(seeds):
        pile, test = draw(setup["labels"], 0.5, seed)
        labelled = torch.zeros(classes, dtype=torch.bool)
        labelled[torch.randperm(classes, generator=torch.Generator().manual_seed(200 + seed))[: classes // 2]] = True
        on = labelled[setup["labels"][pile]]
        support, _ = draw(setup["labels"][pile][on], LABELLED, seed)
        support = pile[on][support]
        x, y, s_x, s_y = setup["features"][test], setup["labels"][test], setup["features"][support], setup["labels"][support]
        weight, bias = setup["seen"][2], setup["seen"][3]
        alone = shape(setup["text"], s_x[:, None], s_y, weight, bias, setup["names"], choose_offset=True).rows
        shaped = shape(setup["text"], s_x[:, None], s_y, weight, bias, setup["names"], choose_offset=False).rows
        pooled = torch.cat([s_x, setup["features"][pile[~on]]])
        fixed = torch.cat([s_y, torch.full((int((~on).sum()),), -1)])
        both = product(setup, shaped, pooled, fixed).rows
        for name, rows in (("labelled only", alone), ("labelled + pile", both)):
            out.setdefault(name, []).append({**scores(setup["seen"], x, y, rows.weight, rows.bias),
                                             **_halves_zsl(x, y, rows.weight, rows.bias, labelled)})
    return {name: summary(runs) for name, runs in out.items()}


def run(data: Path, seeds: int = 3, sets=("CUB-50", "Flowers-102"), cli: bool = True) -> dict:
    """Every block of the page for every set, and the cold CLI time with the load around it."""
    results: dict = {"seeds": seeds}
    for which in sets:
        setup = prepare(data, which)
        print(which, flush=True)
        results[which] = {**run_methods(setup, seeds), "mixed": run_mixed(setup, seeds), "together": run_together(setup, seeds)}
    if cli:
        load = os.getloadavg()[0]
        results["cli"] = {"seconds": cli_seconds(data, 50, 30, "--unlabelled-images"), "load_before": load,
                          "load_after": os.getloadavg()[0], "cores": os.cpu_count()}
    return results


def _cell(pair) -> str:
    return "{:.3f} ± {:.3f}".format(*pair)


def _set_tables(which: str, out: dict, seeds: int) -> list[str]:
    lines = [f"### {which} ({out['classes']} classes; a pile of {out['pile_photos']} photos, half of each class; "
             f"{seeds} draws, mean ± std)", "",
             "| method | ZSL | S | U | H | H oracle | S drop | rows serving their class: text -> after | lost | gained | "
             "swapped pairs | seconds |", "|---" * 12 + "|"]
    for method, r in out["methods"].items():
        lines.append(f"| {method} | {_cell(r['zsl'])} | {r['S'][0]:.3f} | {r['U'][0]:.3f} | {_cell(r['H'])} | "
                     f"{_cell(r['H_oracle'])} | {r['S_drop'][0]:.3f} | {r['served_text'][0]:.1f} -> {r['served'][0]:.1f} | "
                     f"{r['lost'][0]:.1f} | {r['gained'][0]:.1f} | {r['swapped_pairs'][0]:.1f} | {r['seconds'][0]:.1f} |")
    lines += ["", f"Naming ceiling (the pile's top-1 if its clusters were the true classes, named one-to-one by the text "
              f"rows): {_cell(out['naming_ceiling'])}. Pull towards the names chosen by the rehearsal, per draw: "
              f"{', '.join(f'{p:g}' for p in out['pulls'])} photos. Rows the CLI warns about (name agreement under "
              f"{LOW_AGREEMENT:.0%}), all draws: {out['agreement']['warned_serving']} of {out['agreement']['warned']} "
              f"serve their class; the others: {out['agreement']['others_serving']} of {out['agreement']['others']}.", "",
              f"Mixed pile ({out['mixed']['mixed_photos']} ImageNet sample photos, {MIXED_SHARE:.0%} of the pile; S on the "
              "other 500 samples):", "",
              "| pile | ZSL | S | U | H | H oracle | S drop | left to the seen classes | mixed-in photos kept in their class "
              "(original head) |", "|---" * 9 + "|"]
    for name in ("clean", "mixed"):
        r = out["mixed"][name]
        kept = (f"{r['mixed_own_class'][0]:.3f} ({r['mixed_own_class_original'][0]:.3f})" if "mixed_own_class" in r else "-")
        lines.append(f"| {name} | {_cell(r['zsl'])} | {r['S'][0]:.3f} | {r['U'][0]:.3f} | {_cell(r['H'])} | "
                     f"{_cell(r['H_oracle'])} | {r['S_drop'][0]:.3f} | {r['left_to_seen'][0]:.1f} | {kept} |")
    lines += ["", f"Labelled + unlabelled ({LABELLED} labelled photos for each class of a seeded half, the other half's "
              "pile photos as the pile):", "", "| photos | ZSL | ZSL, labelled half | ZSL, pile half | H | H oracle |",
              "|---|---|---|---|---|---|"]
    for name, r in out["together"].items():
        lines.append(f"| {name} | {_cell(r['zsl'])} | {_cell(r['zsl_labelled'])} | {_cell(r['zsl_pile'])} | "
                     f"{_cell(r['H'])} | {_cell(r['H_oracle'])} |")
    return lines + [""]


def tables(results: dict) -> str:
    """Markdown: per set the methods with drift, the naming ceiling, the mixed pile and labelled + pile; the CLI time."""
    lines = []
    for which, out in results.items():
        if isinstance(out, dict) and "methods" in out:
            lines += _set_tables(which, out, results["seeds"])
    if "cli" in results:
        cli = results["cli"]
        lines.append(f"50 species x 30 unlabelled photos in one folder (the first 50 of CUB-50 and Flowers-102 that "
                     f"ImageNet-1K lacks), one cold `inject-classes --unlabelled-images` process, empty embedding cache, "
                     f"all {cli['cores']} cores: {cli['seconds']:.1f} s wall (1-minute load average {cli['load_before']:.1f} "
                     f"before, {cli['load_after']:.1f} after).")
    return "\n".join(lines)


def section(results: dict) -> str:
    """The suite's block (docs/results.md): what was measured, then ``tables``."""
    return f"""
## A pile of unlabelled photos

`inject(model, names, unlabelled=...)` / `--unlabelled-images DIR`: unsorted photos of the new classes, no class
given. Transductive protocol: in each of {results["seeds"]} seeded draws, half of each class's photos go unlabelled
into one pile, the other half are the test photos (no photo on both sides); the ImageNet sample photos are the
seen side. "product" is what the option does (k-means on the pile from the text rows' balanced assignment, rows
pulled towards the names by the rehearsed pull, offset from the pile within the seen-loss budget); the other rows
are the variants measured for it (`benchmarks/transductive.py`). A row serves the class whose test photos it
takes most often; lost / gained count classes whose row stopped / started serving them, swapped pairs rows that
serve each other's class. `python -m benchmarks.unlabelled`.

{tables(results)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--seeds", type=int, default=3, help="draws of the pile / test halves")
    parser.add_argument("--sets", nargs="+", default=["CUB-50", "Flowers-102"], choices=["CUB-50", "Flowers-102"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--no-cli", action="store_true", help="skip the cold CLI timing")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    results = run(assets.data_dir(args.data), args.seeds, args.sets, not args.no_cli)
    print(f"\n({time.perf_counter() - start:.0f} s)\n\n{tables(results)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
