"""Run a command and print the peak memory (KiB) of its process tree: the command's own peak plus the peak of
each process it started (`inkasso ingest` reads a large file ahead in a reader process of its own). The peaks
are added whether or not they fell at the same moment: the figure is an upper bound, never an undercount."""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time

SAMPLE_SECONDS = 0.1
PEAK = re.compile(r"VmHWM:\s+(\d+) kB")


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


def peak_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            found = PEAK.search(fh.read())
    except OSError:
        return 0
    return int(found.group(1)) if found else 0


def main(command: list[str]) -> int:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    own, started = 0, {}   # the command's peak so far; the processes it started -> theirs
    while process.poll() is None:
        own = max(own, peak_kib(process.pid))
        for child in children(process.pid):
            started[child] = max(started.get(child, 0), peak_kib(child))
        time.sleep(SAMPLE_SECONDS)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss   # of the whole tree, to its very end
    if largest > max(started.values(), default=0):
        own = largest   # the command's own peak, exactly
    return own + sum(started.values())


if __name__ == "__main__":
    print(main(sys.argv[1:]))
