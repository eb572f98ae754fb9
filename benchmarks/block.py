"""The command line every benchmark block shares: ``--data``, ``--json``; run, print the tables, keep the JSON."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

from inject import assets


def block_main(doc: str, run: Callable[[Path], dict], tables: Callable[[dict], str]) -> None:
    """Parse ``--data`` / ``--json``, ``run`` the block on the data folder, print ``tables`` of it, write the JSON."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="evaluation data folder (default: $INJECT_DATA or ../shared/data)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    found = run(assets.data_dir(args.data))
    print(tables(found))
    if args.json:
        args.json.write_text(json.dumps(found, indent=1, default=float))
