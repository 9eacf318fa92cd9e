"""A pytest plugin (loaded by `addopts`): a test that hangs is shown and stopped, not waited for.

A test awaiting something that never comes (seen once in `make test` on 7 Dec 2026, in
tests/platform/test_outbox.py, its process idle for over ten minutes) would hold CI until
its 90-minute limit and say nothing of where it waited. After `TEST_HANG_SECONDS` (300)
in a test's call, this prints every thread's stack and, when the main thread runs an
asyncio loop, every task's stack from inside that loop (where the await is), then stops the
run as SIGTERM does (tests/interrupt.py): teardown runs, the run fails at once. Only the
call is watched (fixtures start whole stacks, which may take minutes on a cold machine).
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

HANG_SECONDS = float(os.environ.get("TEST_HANG_SECONDS", "300"))  # 0 or less: off
# A test serving an app with uvicorn in-process has SIGTERM handled by uvicorn (a graceful
# shutdown) while it serves: if the run has not ended this long after the signal, it exits.
GRACE_SECONDS = 120.0
# Taken by the watchdog to stop the run and by a test's end: a test that ends as it fires
# is stopped only if it had not ended.
_ENDING = threading.Lock()
# The process's own stderr as it was when pytest loaded this plugin, before pytest captured
# file descriptor 2 (a stopped run never shows what a test's capture holds).
_ERR = os.fdopen(os.dup(2), "w", buffering=1)


def _main_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop the main thread is running, found in its frames (another thread's
    running loop is not reachable through asyncio's own functions)."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, asyncio.AbstractEventLoop) and candidate.is_running():
            return candidate
        frame = frame.f_back
    return None


def _awaits(awaitable: object) -> Iterator[str]:
    """Where a coroutine waits, outermost first, down its chain of awaits (a task's own
    stack shows only its outermost coroutine)."""
    for _ in range(50):
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "ag_frame", None)
        if frame is None:
            yield f"    awaits {awaitable!r}"[:300]
            return
        code = frame.f_code
        yield f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}'
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "ag_await", None)
        if awaitable is None:
            return


def _print_tasks() -> None:
    """Runs in the loop's thread: every task and where it waits."""
    tasks = asyncio.all_tasks()
    print(f"\n[watchdog] {len(tasks)} asyncio tasks:", file=_ERR)
    for task in tasks:
        print(f"{task.get_name()}:", *_awaits(task.get_coro()), sep="\n", file=_ERR)


def _expired(name: str, done: threading.Event) -> None:
    if done.wait(HANG_SECONDS):
        return
    print(f"\n[watchdog] {name} still runs after {HANG_SECONDS:.0f}s; stacks:", file=_ERR)
    faulthandler.dump_traceback(file=_ERR, all_threads=True)
    loop = _main_loop()
    if loop is not None:
        printed = threading.Event()

        def show() -> None:
            _print_tasks()
            printed.set()

        loop.call_soon_threadsafe(show)
        printed.wait(5)  # a loop blocked in a call never prints: the thread stacks say where
    _ERR.flush()
    with _ENDING:
        if done.is_set():
            return
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)  # a daemon thread: a run that ends ends it
    print(f"[watchdog] the run did not stop within {GRACE_SECONDS:.0f}s; exiting", file=_ERR)
    _ERR.flush()
    os._exit(3)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if HANG_SECONDS <= 0:
        return (yield)
    done = threading.Event()
    watcher = threading.Thread(
        target=_expired, args=(item.nodeid, done), name="test-watchdog", daemon=True
    )
    watcher.start()
    try:
        return (yield)
    finally:
        with _ENDING:
            done.set()
