"""Linux's /proc, read one way: a process's (or thread's) state, parent and CPU time, and how
busy the whole machine has been.

The benches say where the machine's CPU went (routing's consumer, the pipeline's phases, the
broker's JIT) and the chaos suite finds the processes it signals; all read the same fields of
/proc/<pid>/stat. The command name there sits in parentheses and may itself hold spaces or
parentheses: the fields are read after the last ")".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    pid: int  # or the thread's id
    name: str  # the command (or thread) name, as the kernel keeps it (15 characters)
    state: str  # R running, S sleeping, Z zombie, ...
    parent: int
    cpu_seconds: float  # user and system time so far
    # When it started, in clock ticks since boot: with the pid, what tells a process from a
    # later one given the same pid (pids wrap, at 32,768 on a default system).
    started: int


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
        started=int(fields[19]),  # starttime
    )


def processes() -> Iterator[Stat]:
    """Every process alive now (one that ends while listed is left out)."""
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit() and (found := stat(int(entry.name))) is not None:
                yield found


def threads(pid: int) -> Iterator[Stat]:
    """The threads of a process alive now (none when the process is gone)."""
    try:
        with os.scandir(f"/proc/{pid}/task") as listing:
            entries = list(listing)
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
# CPU seconds each process (pid, start) had spent at a reading, with its owner.
Reading = dict[tuple[int, int], tuple[str, float]]


def spent(owner: Owner, of: Iterable[Stat] | None = None) -> Reading:
    """CPU seconds each process (or each of `of`: a process's threads, say) has spent so far,
    with its owner."""
    return {
        (s.pid, s.started): (owner(s), s.cpu_seconds) for s in (processes() if of is None else of)
    }


def since(before: Reading, now: Reading) -> dict[str, float]:
    """CPU seconds by owner from one reading to a later one, over what is there now: a process
    that started meanwhile (a new pid, or a pid reused since) counts from nothing, and one that
    ended is left out rather than subtracted."""
    by_owner: dict[str, float] = {}
    for process, (name, seconds) in now.items():
        earlier = before.get(process)
        by_owner[name] = by_owner.get(name, 0.0) + seconds - (earlier[1] if earlier else 0.0)
    return by_owner
