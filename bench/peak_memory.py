"""Run a command and print the peak memory (KiB) of its process tree: the largest sum of the proportional set
sizes (PSS) of the command and of the processes it started (`inkasso ingest` reads a large file ahead in a
reader process of its own), sampled every `SAMPLE_SECONDS`, and never less than the largest single process's
own peak resident memory.

PSS, not resident memory: the pages two processes share (the code of Python, Arrow and pandas, mapped by both)
are counted once, as the machine holds them, not once per process. PSS costs the kernel a walk of the
process's pages, so it is read only when the resident memory (cheap to read, never below the PSS) could
make a new peak."""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time

SAMPLE_SECONDS = 0.05
PROPORTIONAL = re.compile(r"^Pss:\s+(\d+) kB", re.MULTILINE)
RESIDENT = re.compile(r"VmRSS:\s+(\d+) kB")


def children(pid: int) -> list[int]:
    found = []
    for thread in _listed(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as fh:
                found += [int(child) for child in fh.read().split()]
        except OSError:
            pass
    return found


def _listed(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _kib(pid: int, name: str, pattern: re.Pattern) -> int | None:
    try:
        with open(f"/proc/{pid}/{name}") as fh:
            found = pattern.search(fh.read())
    except OSError:
        return None
    return int(found.group(1)) if found else None


def resident_kib(pid: int) -> int:
    return _kib(pid, "status", RESIDENT) or 0


def proportional_kib(pid: int) -> int:
    """The process's PSS, or its resident memory where the kernel does not tell its PSS."""
    found = _kib(pid, "smaps_rollup", PROPORTIONAL)
    return resident_kib(pid) if found is None else found


def main(command: list[str]) -> int:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        pids = [process.pid, *children(process.pid)]
        if sum(resident_kib(pid) for pid in pids) > peak:
            peak = max(peak, sum(proportional_kib(pid) for pid in pids))
        time.sleep(SAMPLE_SECONDS)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
