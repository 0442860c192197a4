"""Run a command and print the peak memory (KiB) of its process tree: the largest sum of the resident memory of
the command and of the processes it started (`inkasso ingest` reads a large file ahead in a reader process of
its own), sampled every `SAMPLE_SECONDS`, and never less than the largest single process's own peak."""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time

SAMPLE_SECONDS = 0.05
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


def resident_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            found = RESIDENT.search(fh.read())
    except OSError:
        return 0
    return int(found.group(1)) if found else 0


def main(command: list[str]) -> int:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, sum(resident_kib(pid) for pid in [process.pid, *children(process.pid)]))
        time.sleep(SAMPLE_SECONDS)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
