"""What an instance routes with: the active reference version and the category classifier.

Both change without a redeploy: an operator activates a new reference version (any
instance), or `routing retrain` writes a new model file. Each instance polls the active
version (one indexed row) and the model file's modification time every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from appeals_reference import ReferenceData
from routing import db, reference_versions
from routing.classifier import CategoryClassifier, default_classifier
from routing.decision import CategoryRanker

log = logging.getLogger(__name__)


def load_classifier(path: Path | None) -> CategoryClassifier:
    """The retrained model saved at `path` if there is one, else the packaged corpus's model."""
    if path is not None and path.exists():
        try:
            return CategoryClassifier.load(path)
        except Exception:
            log.exception("cannot load the model at %s; using the packaged one", path)
    return default_classifier()


def _mtime(path: Path | None) -> int | None:
    try:
        return path.stat().st_mtime_ns if path is not None else None
    except OSError:
        return None


@dataclass
class Knowledge:
    reference: ReferenceData
    classifier: CategoryRanker
    threshold: float
    model_path: Path | None = None
    _model_mtime: int | None = field(default=None, repr=False)

    @classmethod
    async def start(
        cls, conn: asyncpg.Connection, *, model_path: Path | None, threshold: float
    ) -> Knowledge:
        """Seed the reference table if empty, read the active version, load the model."""
        if await reference_versions.seed(conn):
            log.info("seeded the reference data from the packaged files")
        reference = await reference_versions.active(conn)
        mtime = _mtime(model_path)
        classifier = await asyncio.to_thread(load_classifier, model_path)
        log.info(
            "routing with reference %s and classifier %s",
            reference.version,
            classifier.version,
        )
        return cls(reference, classifier, threshold, model_path, mtime)

    def use_reference(self, reference: ReferenceData) -> None:
        if reference.version != self.reference.version:
            log.info("reference data %s -> %s", self.reference.version, reference.version)
            self.reference = reference

    async def refresh_reference(self, conn: asyncpg.Connection) -> bool:
        """Switch to the active version if another instance or the CLI changed it."""
        version = await db.active_reference_version(conn)
        if version is None or version == self.reference.version:
            return False
        self.use_reference(await reference_versions.active(conn))
        return True

    async def refresh_classifier(self) -> bool:
        """Load the model file again when `routing retrain` has replaced it."""
        mtime = _mtime(self.model_path)
        if mtime is None or mtime == self._model_mtime:
            return False
        self._model_mtime = mtime
        classifier = await asyncio.to_thread(load_classifier, self.model_path)
        log.info("classifier %s -> %s", self.classifier.version, classifier.version)
        self.classifier = classifier
        return True

    async def watch(self, pool: asyncpg.Pool, interval: float) -> None:
        """Poll for a new reference version and a new model until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                async with pool.acquire() as conn:
                    await self.refresh_reference(conn)
                await self.refresh_classifier()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("refreshing the reference data or the model failed; retrying")
