"""Run a function in a forked child with a time and memory limit (the coverage sweep's safety net)."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any, Callable

import torch
from torch import nn


def runs_within(model: nn.Module, x: torch.Tensor, seconds: float) -> bool:
    """Whether ``model(x)`` finishes without error within ``seconds``, tried in a forked child
    (some models crawl inside a single operator on inputs they were not built for)."""
    pid = os.fork()
    if pid == 0:  # child: no cleanup, no exception may escape
        code = 1
        try:
            with torch.no_grad():
                model(x)
            code = 0
        finally:
            os._exit(code)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False


def _child(conn, fn: Callable, args: tuple) -> None:
    try:
        conn.send(fn(*args))
    except BaseException as error:  # report anything, even SystemExit, as the model's failure
        conn.send({"status": "fail", "reason": f"{type(error).__name__}: {str(error)[:200]}"})
    finally:
        conn.close()


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            line = next(l for l in f if l.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration):
        return 0


def run_isolated(fn: Callable[..., dict], args: tuple, timeout: float, max_rss: float) -> dict[str, Any]:
    """``fn(*args)`` in a forked child; a timeout, memory overrun or crash becomes a ``fail`` result."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
    start = time.perf_counter()
    proc.start()
    send.close()
    reason = ""
    while proc.is_alive() and not receive.poll(0.2):
        if time.perf_counter() - start > timeout:
            reason = f"timeout after {timeout:.0f} s"
        elif _rss_bytes(proc.pid) > max_rss:
            reason = f"memory over {max_rss / 2**30:.0f} GiB"
        if reason:
            proc.kill()
            break
    result = None
    if not reason and receive.poll(1.0):
        try:
            result = receive.recv()
        except EOFError:  # the child died before sending anything (poll is also true on a closed pipe)
            result = None
    proc.join()
    if result is None:
        reason = reason or f"crashed (exit code {proc.exitcode})"
        result = {"status": "fail", "reason": reason}
    result.setdefault("seconds", round(time.perf_counter() - start, 2))
    return result
