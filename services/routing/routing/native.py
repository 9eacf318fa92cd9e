"""Routing's compiled fast paths, loaded through one door: `load(name)` and `compiled(name)`.

`make install` compiles two modules when a C compiler is there: the place matcher
(`locality.py`, with mypyc, about twice as fast) and the classifier's arithmetic
(`_margins.pyx`, with Cython, for this machine's CPU). Each build is a module of its own name
(the place matcher is compiled from a copy named `_compiled_locality.py`), so a plain
`import routing.locality` always means the source and nothing is swapped in `sys.modules`.
Beside each build, `<build>.native` holds the hash of the source it was compiled from and of
this machine's CPU flags. A build whose stamp does not match is not used, so an edit is never
shadowed by a stale build and a checkout moved to another CPU never runs instructions it lacks.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Final

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Build:
    source: str  # the file `make install` compiles, beside this module
    module: str  # the module the build is imported as
    python: str | None  # the module used without a current build (None: the caller has one)


BUILDS: Final = {
    "locality": Build("locality.py", "routing._compiled_locality", "routing.locality"),
    "margins": Build("_margins.pyx", "routing._margins", None),
}


def load(name: str) -> ModuleType:
    """The current build of `name`, else its Python module (callers bind what they use once)."""
    build = BUILDS[name]
    assert build.python is not None, f"{name} has no Python module: use compiled()"
    return compiled(name) or importlib.import_module(build.python)


@functools.cache
def compiled(name: str) -> ModuleType | None:
    """The build of `name` if `make install` made it from its source as it is now, on this
    machine; None otherwise (no compiler, an edited source, another CPU, another Python)."""
    build = BUILDS[name]
    written = stamp_file(build)
    if not written.is_file() or written.read_text().strip() != stamp(HERE / build.source):
        return None
    try:
        return importlib.import_module(build.module)
    except ImportError:
        return None


def stamp_file(build: Build) -> Path:
    return HERE / f"{build.module.rpartition('.')[2]}.native"


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
