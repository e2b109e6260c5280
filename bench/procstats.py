"""What bench_scheduler.py and bench_load.py share (Linux only, as both are): what they read of a running
process from /proc, a free local port, the child processes they start and stop, and how main() runs."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Callable, Coroutine

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # the benchmarks import bot, rules, storage and tests from it
    sys.path.insert(0, str(REPO_ROOT))

from tests.helpers import free_port as free_port  # noqa: E402 - the repository root is on sys.path from here on

HZ = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def proc_mem(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0]) / 1024
    return out


class Processes:
    """Every child process a benchmark starts (each benchmark's `start` appends to `procs` and `logs`);
    all are stopped in the end, by pid."""

    stop_timeout = 15.0  # seconds from SIGTERM to SIGKILL

    def __init__(self) -> None:
        self.procs: list[asyncio.subprocess.Process] = []
        self.logs: list[str] = []

    async def stop(self, proc: asyncio.subprocess.Process, timeout: float | None = None) -> None:
        from tests.helpers import stop_process  # the repository root is on sys.path by now

        await stop_process(proc, self.stop_timeout if timeout is None else timeout)
        if proc in self.procs:
            self.procs.remove(proc)

    async def stop_all(self, timeout: float | None = None) -> None:
        for proc in list(self.procs):
            await self.stop(proc, timeout)

    def cleanup_logs(self, keep: bool) -> None:
        for path in self.logs:
            if keep:
                print(f"  log kept: {path}")
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def run_main(run: Callable[[], Coroutine[Any, Any, int]], dropped: str) -> int:
    """Run a benchmark's main coroutine; Ctrl-C stops the children and drops what it created (`dropped`)."""
    try:
        return asyncio.run(run())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"interrupted: child processes stopped, {dropped} dropped", file=sys.stderr)
        return 130
