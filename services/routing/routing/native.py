"""Which of routing's compiled modules may be used: built from this source, on this machine.

`make install` compiles the place matcher (`locality.py`, with mypyc) and the classifier's
arithmetic (`_margins.pyx`, with Cython, for this machine's CPU) when a C compiler is there,
and writes `<module>.native`: the hash of the source it compiled and of this machine's CPU
flags. A build whose stamp does not match is not used, so an edit is never shadowed by a
stale build and a checkout moved to another CPU never runs instructions it lacks.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

HERE = Path(__file__).parent


@functools.cache
def machine() -> str:
    """A hash of the CPU's feature flags (what -march=native compiled for)."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return hashlib.sha256(flags.encode()).hexdigest()[:16]


def stamp(source: Path) -> str:
    return f"{hashlib.sha256(source.read_bytes()).hexdigest()} {machine()}"


def is_current(module: str, source: str) -> bool:
    """A compiled `module` exists and was built from `source` as it is now, on this machine."""
    return _built(module) and _stamped(module, source)


def is_stale(module: str, source: str) -> bool:
    """A compiled `module` exists but was built from another source or on another machine."""
    return _built(module) and not _stamped(module, source)


def _built(module: str) -> bool:
    return any(HERE.glob(f"{module}.*.so"))


def _stamped(module: str, source: str) -> bool:
    written = HERE / f"{module}.native"
    return written.is_file() and written.read_text().strip() == stamp(HERE / source)
