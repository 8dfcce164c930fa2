"""How busy the machine was while a benchmark ran, from the kernel's CPU counters (Linux).

On a shared virtual machine, a run's tail latency depends on more than the code: the other
processes on it, and the time the hypervisor gave to other guests ("steal"). ``ness bench
latency`` reports both beside each run's figures, so that a slow run can be told from a slow
change.
"""

from __future__ import annotations

from pathlib import Path

_PROC_STAT = Path("/proc/stat")


def cpu_counters(path: Path = _PROC_STAT) -> list[int] | None:
    """The machine-wide ``cpu`` line of ``/proc/stat``: user, nice, system, idle, iowait, irq,
    softirq, steal, ... in clock ticks; None where there is no such file."""
    try:
        first = path.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not first or first[0] != "cpu":
        return None
    return [int(v) for v in first[1:]]


def load_between(before: list[int] | None, after: list[int] | None) -> dict[str, float]:
    """Fractions of all CPU time between two :func:`cpu_counters` readings: ``cpu_busy`` (not
    idle or waiting for I/O, this benchmark's own processes included) and ``cpu_steal`` (taken
    by the hypervisor for other guests). NaN when unknown."""
    nan = float("nan")
    if before is None or after is None or len(before) < 8 or len(after) != len(before):
        return {"cpu_busy": nan, "cpu_steal": nan}
    delta = [b - a for a, b in zip(before, after, strict=True)]
    # guest time (fields 9-10) is already counted in user and nice
    total = sum(delta[:8])
    if total <= 0:
        return {"cpu_busy": nan, "cpu_steal": nan}
    idle = delta[3] + delta[4]
    return {"cpu_busy": (total - idle) / total, "cpu_steal": delta[7] / total}
