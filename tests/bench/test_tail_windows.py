"""bench-pipeline tells a stall from a machine busy throughout: where its slowest 1 % were sent."""

from __future__ import annotations

from types import ModuleType


def test_a_stall_puts_the_slowest_in_few_windows_and_a_busy_machine_in_many(
    pipeline_latency: ModuleType,
) -> None:
    tail_windows = pipeline_latency.tail_windows
    # 20 s at 100 appeals/s, 20 ms each, starting at t = 1000 s.
    steady = [(1000 + i / 100, 20.0) for i in range(2000)]
    # A stall at 7.2 s: the 20 appeals sent in the next 0.2 s waited 300 ms.
    stalled = [(t, 300.0 if 7.2 <= t - 1000 < 7.4 else ms) for t, ms in steady]
    assert tail_windows(stalled) == (1, 40, 7.0)
    # Busy throughout: one appeal in a hundred slow, spread over the run.
    spread = [(t, 300.0 if i % 100 == 50 else ms) for i, (t, ms) in enumerate(steady)]
    windows, total, _ = tail_windows(spread)
    assert (windows, total) == (20, 40)
    assert tail_windows([]) == (0, 0, 0.0)
