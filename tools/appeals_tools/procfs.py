"""Linux's /proc, read one way: a process's (or thread's) state, parent and CPU time, and how
busy the whole machine has been.

The benches say where the machine's CPU went (routing's consumer, the pipeline's phases, the
broker's JIT) and the chaos suite finds the processes it signals; all read the same fields of
/proc/<pid>/stat. The command name there sits in parentheses and may itself hold spaces or
parentheses: the fields are read after the last ")".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    pid: int  # or the thread's id
    name: str  # the command (or thread) name, as the kernel keeps it (15 characters)
    state: str  # R running, S sleeping, Z zombie, ...
    parent: int
    cpu_seconds: float  # user and system time so far


def stat(pid: int, thread: int | None = None) -> Stat | None:
    """A process (or one of its threads) now; None when it is gone (or never was)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        with open(path) as file:
            text = file.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return Stat(
        pid=thread if thread is not None else pid,
        name=text[text.index("(") + 1 : text.rindex(")")],
        state=fields[0],
        parent=int(fields[1]),
        cpu_seconds=(int(fields[11]) + int(fields[12])) / TICK,  # utime, stime
    )


def processes() -> Iterator[Stat]:
    """Every process alive now (one that ends while listed is left out)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (found := stat(int(entry.name))) is not None:
            yield found


def threads(pid: int) -> Iterator[Stat]:
    """The threads of a process alive now (none when the process is gone)."""
    try:
        entries = list(os.scandir(f"/proc/{pid}/task"))
    except OSError:
        return
    for entry in entries:
        if (found := stat(pid, int(entry.name))) is not None:
            yield found


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent working (all processes, all cores) since boot.

    Time the hypervisor gave to other guests (steal) is not counted, nor idle or I/O wait.
    """
    with open("/proc/stat") as file:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, file.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / TICK


# Who a process works for ("routing", "postgres", ...), given its stat.
Owner = Callable[[Stat], str]
Spent = dict[int, tuple[str, float]]


def spent(owner: Owner) -> Spent:
    """CPU seconds each process has spent so far, with its owner."""
    return {s.pid: (owner(s), s.cpu_seconds) for s in processes()}


def spent_since(before: Spent, owner: Owner) -> dict[str, float]:
    """CPU seconds by owner since `before`, over the processes alive now: one that started
    meanwhile counts from nothing, one that ended is left out rather than subtracted, and a pid
    reused by another owner counts from nothing."""
    by_owner: dict[str, float] = {}
    for pid, (name, seconds) in spent(owner).items():
        earlier = before.get(pid)
        since = seconds - (earlier[1] if earlier is not None and earlier[0] == name else 0.0)
        by_owner[name] = by_owner.get(name, 0.0) + max(0.0, since)
    return by_owner
