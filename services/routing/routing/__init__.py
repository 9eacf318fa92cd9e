"""Routing service: addressee agency for every appeal, explained; redirects; agency topics.

`make install` compiles the place matcher (`locality.py`) with mypyc when a C compiler is
there: the same type-checked source, about twice as fast. The build records the hash of
the source it compiled (`locality.native`); a compiled module built from another version
of the source is not used, so an edit is never shadowed by a stale build.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path


def _source_when_build_is_stale() -> None:
    here = Path(__file__).parent
    if not any(here.glob("locality.*.so")):
        return
    source = here / "locality.py"
    stamp = here / "locality.native"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return
    spec = importlib.util.spec_from_file_location(f"{__name__}.locality", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)


_source_when_build_is_stale()
