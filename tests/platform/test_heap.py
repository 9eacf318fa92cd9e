"""Heap tuning is a setting of every service: on by default, off when a service says so, applied
as set."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys

import pytest

from appeals_platform.settings import ServiceSettings
from deadlines.config import Settings as DeadlinesSettings
from intake.config import Settings as IntakeSettings
from routing.config import Settings as RoutingSettings

# Runs in a fresh interpreter: the collector and the allocator are process-wide.
PROBE = """
import ctypes, gc, json, sys
from appeals_platform import heap
from appeals_platform.settings import ServiceSettings

class Info(ctypes.Structure):  # glibc's struct mallinfo2
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

heap.tune(ServiceSettings.model_validate_json(sys.argv[1]))
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
# A batch's worth of buffers (each under glibc's default mmap threshold), freed together.
batch = [bytearray(100_000) for _ in range(500)]
del batch
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "young": gc.get_threshold()[0],
    "heap_mb": mallinfo2().arena >> 20,
}))
"""


def _tuned(settings: ServiceSettings) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, settings.model_dump_json()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


glibc = pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="not glibc 2.33+: no mallinfo2"
)


@glibc
def test_a_service_with_heap_tuning_off_runs_on_the_interpreters_and_glibcs_defaults() -> None:
    found = _tuned(
        ServiceSettings(gc_freeze=False, gc_young_threshold=None, malloc_keep_freed_mb=0)
    )
    assert found["frozen"] == 0
    assert found["young"] == 700
    # glibc handed the freed batch back to the system.
    assert found["heap_mb"] < 20


@glibc
@pytest.mark.parametrize("service", [IntakeSettings, RoutingSettings, DeadlinesSettings])
def test_every_service_freezes_its_start_up_heap_collects_less_often_and_keeps_freed_memory(
    service: type[ServiceSettings],
) -> None:
    settings = service()
    assert (settings.gc_freeze, settings.gc_young_threshold, settings.malloc_keep_freed_mb) == (
        True,
        10_000,
        64,
    )
    found = _tuned(
        ServiceSettings(
            **settings.model_dump(
                include={"gc_freeze", "gc_young_threshold", "malloc_keep_freed_mb"}
            )
        )
    )
    assert found["frozen"] > 10_000
    assert found["young"] == 10_000
    # The freed batch (about 50 MB) stays in the heap for the next one.
    assert found["heap_mb"] >= 45


def test_heap_settings_come_from_the_services_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTING_GC_FREEZE", "false")
    monkeypatch.setenv("ROUTING_MALLOC_KEEP_FREED_MB", "0")
    settings = RoutingSettings()
    assert settings.gc_freeze is False
    assert settings.malloc_keep_freed_mb == 0
    assert settings.gc_young_threshold == 10_000
