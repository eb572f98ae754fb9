"""Sweep every timm, torchvision and transformers classifier through the adapters' checks (``benchmarks/sweep``).

    python -m benchmarks.coverage [--library timm|torchvision|transformers] [--only REGEX] [--limit N] [--workers N] [--fresh]

Each model runs in a single-threaded forked child with a time and memory limit, one per core at once; results are appended to a JSON
file after every model, so an interrupted sweep resumes where it stopped (``--fresh`` starts over).
``docs/coverage.md`` is regenerated from the JSON at the end (``--report-only`` just regenerates it): the
timm / torchvision report when those libraries are selected, the transformers section (between its
markers, ``sweep/transformers_report.py``) when transformers is; the other part is left as it is.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from concurrent.futures import ThreadPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from benchmarks.sweep import checks as coverage  # noqa: E402
from benchmarks.sweep import transformers_report  # noqa: E402
from benchmarks.sweep.libraries import LIBRARIES  # noqa: E402

DEFAULT_RESULTS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inject-classes" / "coverage.json"
DEFAULT_DOC = Path(__file__).resolve().parents[1] / "docs" / "coverage.md"
MODULE_LIBRARIES = ("timm", "torchvision")  # the report's main part; transformers has its own section


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="regex: check only models whose name matches (re.search)")
    parser.add_argument("--limit", type=int, help="check at most N models per library (after --only)")
    parser.add_argument("--library", choices=tuple(LIBRARIES), action="append",
                        help="restrict to one library (repeatable; default all)")
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results and check every model again")
    parser.add_argument("--retry-failed", action="store_true", help="check again the models that failed before")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help=f"JSON results (default {DEFAULT_RESULTS})")
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC, help="Markdown report to write (default docs/coverage.md)")
    parser.add_argument("--workers", type=int, default=max(1, len(os.sched_getaffinity(0))),
                        help="models checked at once, one single-threaded child each (default: one per core)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per model (default 120)")
    parser.add_argument("--max-rss-gb", type=float, default=9.0, help="kill a model's check above this RSS (default 9)")
    parser.add_argument("--report-only", action="store_true", help="only regenerate the Markdown from the JSON")
    return parser.parse_args(argv)


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"models": {}, "runs": []}


def save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def sweep(args: argparse.Namespace, data: dict, run: dict) -> None:
    """Check every selected model not yet in ``data`` (all with ``--fresh``), saving after each.

    ``--workers`` models run at once, each in its own forked child; results are recorded here, in
    the main thread, in the order they finish.
    """
    models, start = data["models"], time.perf_counter()
    pending = []
    for library in args.library or tuple(LIBRARIES):
        for name in coverage.select(LIBRARIES[library].names(), args.only, args.limit):
            old = models.get(f"{library}/{name}")
            if not old or args.fresh or (args.retry_failed and old["status"] == "fail"):
                pending.append((library, name))
    limits = (args.timeout, args.max_rss_gb * 2**30)
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(coverage.run_isolated, LIBRARIES[job[0]].check, job[1:], *limits): job for job in pending}
        for future in as_completed(futures):
            library, name = futures[future]
            result = future.result()
            result.setdefault("library", library)
            result.setdefault("family", LIBRARIES[library].family(name))
            key = f"{library}/{name}"
            models[key] = result
            print(f"{key:60s} {result['status']:4s} {result['seconds']:7.1f}s {result.get('reason', '')}", flush=True)
            run["checked"] += 1
            run["wall_s"] = round(time.perf_counter() - start, 1)
            save(args.results, data)


def _not_classifier(row: dict) -> bool:
    return row["status"] == "skip" and row.get("reason", "").startswith("not a classifier")


def _rate(rows: list[dict]) -> str:
    """Passes over the checked classifiers (architectures without any classification layer left out)."""
    rows = [r for r in rows if not _not_classifier(r)]
    passed = sum(r["status"] == "pass" for r in rows)
    return f"{passed}/{len(rows)} ({100 * passed / max(1, len(rows)):.1f}%)"


def _reason_group(reason: str) -> str:
    return reason.split(":")[0].split("(")[0].strip()[:80] or "-"


def render(data: dict) -> str:
    """The Markdown report: pass rates, counts per family, every failure and skip with its reason."""
    models = {key: r for key, r in data["models"].items() if key.split("/")[0] in MODULE_LIBRARIES}
    by_lib = defaultdict(list)
    for key, r in models.items():
        by_lib[key.split("/")[0]].append({**r, "name": key.split("/", 1)[1]})
    lines = ["# Adapter coverage: every timm and torchvision classifier", "",
             "Generated by `python -m benchmarks.coverage` from its JSON results; do not edit by hand.", ""]
    lines.append("Runs (each resumes the JSON of the ones before):")
    lines.append("")
    for run in [r for r in data["runs"] if set(r.get("libraries", MODULE_LIBRARIES)) & set(MODULE_LIBRARIES)]:
        state = "" if run.get("finished", True) else " (interrupted)"
        lines.append(f"- `{run['command']}`: {run['checked']} models checked in {run['wall_s'] / 60:.1f} min "
                     f"with {run.get('workers', 1)} worker(s){state} "
                     f"({run['when']}, torch {run['torch']}, timm {run['timm']}, torchvision {run['torchvision']})")
    lines.append(f"\nTotal wall time: {sum(r['wall_s'] for r in data['runs']) / 60:.1f} min on {os.cpu_count()} cores "
                 "(`--workers` models at a time, each in a single-threaded forked child with a timeout and an RSS limit).")
    lines += ["", "Each model: random weights (no download), 3 random rows appended with `adapters.extend_head`;",
              "pass = `C + 3` logits, first `C` `torch.equal` to the original's (or within float tolerance, reason",
              f"\"{coverage.GEMM_TAIL}\"), `torch.jit.trace` still works where it did, and the state dict round-trips",
              "through safetensors, `find_head_in_state_dict` + `extend_state_dict`, loads strictly into a",
              "`num_classes=C + 3` model and gives the same logits.", "", "## Pass rates", "",
              "| library | models | pass | fail | skip (too large) | not classifiers | not checked yet | pass rate of checked classifiers |",
              "|---|---|---|---|---|---|---|---|"]
    for lib, rows in sorted(by_lib.items()):
        count, total = Counter(r["status"] for r in rows), len(coverage.list_names(lib))
        encoders = sum(_not_classifier(r) for r in rows)
        lines.append(f"| {lib} | {total} | {count['pass']} | {count['fail']} | {count['skip'] - encoders} | {encoders} | "
                     f"{total - len(rows)} | {_rate(rows)} |")
    extra = [r for rows in by_lib.values() for r in rows if r.get("status") == "pass"]
    lines += ["", f"Passes with a GEMM-tail rounding difference: {sum(r.get('reason') == coverage.GEMM_TAIL for r in extra)}; "
              f"originals that do not trace (trace check not applicable): {sum(str(r.get('trace', '')).startswith('original') for r in extra)}; "
              f"state-dict heads found by key names alone (no `architecture` metadata): "
              f"{sum(r.get('sd_heuristic') == 'same' for r in extra)}/{len(extra)}.", ""]
    lines += _aux_section(), ""
    lines += ["## Failures and skips", "", "| model | status | reason |", "|---|---|---|"]
    for lib, rows in sorted(by_lib.items()):
        for r in sorted(rows, key=lambda r: r["name"]):
            if r["status"] != "pass":
                lines.append(f"| {lib}/{r['name']} | {r['status']} | {r.get('reason', '').replace('|', '/')} |")
    groups = Counter(_reason_group(r.get("reason", "")) for rows in by_lib.values() for r in rows if r["status"] != "pass")
    lines += ["", "Grouped: " + "; ".join(f"{g} ({n})" for g, n in groups.most_common()) if groups else "None.", ""]
    lines += ["## Per family", "", "| library | family | models | pass | fail | skip |", "|---|---|---|---|---|---|"]
    for lib, rows in sorted(by_lib.items()):
        families = defaultdict(list)
        for r in rows:
            families[r.get("family", "?")].append(r)
        for fam, frows in sorted(families.items()):
            count = Counter(r["status"] for r in frows)
            lines.append(f"| {lib} | {fam} | {len(frows)} | {count['pass']} | {count['fail']} | {count['skip']} |")
    return "\n".join(lines) + "\n"


def _aux_section() -> str:
    return ("## Multi-layer heads\n\n"
            "- Distillation heads (DeiT `head` + `head_dist`, LeViT distilled, VOLO `aux_head`, CrossViT `head.0/1`):\n"
            "  found from `get_classifier()` / `pretrained_cfg['classifier']` (state dicts: the `architecture`\n"
            "  metadata, a `*_dist` sibling, or numbered siblings). `ModuleHead.weight/bias` are the effective rows\n"
            "  (mean of the branches; concatenated halves for CrossViT's unequal widths) and every branch gets the\n"
            "  same new rows, which then add exactly `w @ pre_logits + b` for DeiT/LeViT/CrossViT. The seen\n"
            "  effective rows are exact for LeViT and CrossViT; for DeiT (heads read the class and distillation\n"
            "  tokens separately) and VOLO (head + 0.5 * max over tokens of aux_head) the mean is a convention.\n"
            "  Seen logits always stay bit-exact.\n"
            "- LeViT `NormLinear` (BatchNorm1d + Linear): the norm is folded into the reported rows and new rows\n"
            "  are unfolded through it (`W / s`, `b - W @ t`), so the BatchNorm and the seen rows stay untouched.\n"
            "  In state dicts the norm's eps is taken to be 1e-5 (BatchNorm1d's default, LeViT's).\n"
            "- torchvision GoogLeNet (`aux1.fc2`, `aux2.fc2`) and Inception v3 (`AuxLogits.fc`) auxiliary heads\n"
            "  (training-only) are extended too, with K copies of their own mean seen row, so training-mode\n"
            "  outputs have C + K logits and the state dict loads into a `num_classes=C + K` model.")


def write_doc(path: Path, data: dict, libraries: tuple[str, ...]) -> None:
    """Regenerate the parts of ``path`` that belong to ``libraries``; keep the rest as it is."""
    old = path.read_text() if path.is_file() else ""
    text = render(data) if set(libraries) & set(MODULE_LIBRARIES) or not old else old
    rendered = transformers_report.LIBRARY in libraries
    section = transformers_report.render(data) if rendered else transformers_report.section_of(old)
    path.write_text(transformers_report.with_section(text, section) if section else text)


def _run_record(args: argparse.Namespace, argv: list[str], libraries: tuple[str, ...]) -> dict:
    import timm
    import torchvision
    import transformers

    return {"command": "python -m benchmarks.coverage " + shlex.join(argv), "wall_s": 0.0, "checked": 0,
            "workers": args.workers, "libraries": list(libraries),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "torch": torch.__version__,
            "timm": timm.__version__, "torchvision": torchvision.__version__, "transformers": transformers.__version__,
            "finished": False}


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    data = {"models": {}, "runs": []} if args.fresh else load(args.results)
    libraries = tuple(args.library or LIBRARIES)
    if not args.report_only:
        run = _run_record(args, argv, libraries)
        data["runs"].append(run)  # updated after every model, so an interrupted run is still recorded
        sweep(args, data, run)
        run["finished"] = True
        save(args.results, data)
    write_doc(args.doc, data, libraries)
    print(f"results: {args.results}\nreport: {args.doc}")


if __name__ == "__main__":
    main(sys.argv[1:])
