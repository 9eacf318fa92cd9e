"""Routing service: addressee agency for every appeal, explained; redirects; agency topics.

`make install` compiles the place matcher (`locality.py`) with mypyc when a C compiler is
there: the same type-checked source, about twice as fast. A build of another version of the
source (see `routing.native`) is not used: the source is loaded instead.
"""

from __future__ import annotations

import importlib.util
import sys

from routing import native


def _source_when_build_is_stale() -> None:
    if not native.is_stale("locality", "locality.py"):
        return
    source = native.HERE / "locality.py"
    spec = importlib.util.spec_from_file_location(f"{__name__}.locality", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)


_source_when_build_is_stale()
