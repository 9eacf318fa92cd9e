"""A thread of the test process named as the test says, that has spent some CPU: for the tests
of what reads threads from /proc (`appeals_tools.procfs`, bench-pipeline's JIT reading)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def named_thread(name: str, cpu_seconds: float) -> Iterator[int]:
    """Its native thread id, once it is named and has spent `cpu_seconds` (for the kernel to
    count in ticks); it then waits, alive, until the block ends."""
    named, finish = threading.Event(), threading.Event()
    tid = 0

    def work() -> None:
        nonlocal tid
        tid = threading.get_native_id()
        Path("/proc/thread-self/comm").write_text(name)  # the kernel keeps 15 characters
        while time.thread_time() < cpu_seconds:
            pass
        named.set()
        finish.wait()

    thread = threading.Thread(target=work)
    thread.start()
    try:
        assert named.wait(60), "the thread did not spend its CPU"
        yield tid
    finally:
        finish.set()
        thread.join()
