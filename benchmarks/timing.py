"""Wall seconds of one ``inject-classes`` process, run as a user runs it: the timing every CLI figure shares."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence


def cli_wall_seconds(arguments: Sequence[str | Path], env: Mapping[str, str]) -> float:
    """Run ``python -m inject.cli ARGUMENTS`` in a fresh process with ``env``; fail if it fails; its wall seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "inject.cli", *map(str, arguments)], check=True, env=dict(env))
    return time.perf_counter() - start
