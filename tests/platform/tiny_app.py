"""An app for the workers test: says which process answered."""

from __future__ import annotations

import os

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, int]:
        return {"worker": os.getpid()}

    return app
