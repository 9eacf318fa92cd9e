"""The dashboard's stylesheet and script (the CSP allows no inline ones)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
STATIC = files("appeals_dashboard").joinpath("static")

router = APIRouter()


@router.get("/static/{name}")
async def static(name: str) -> Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    resource = STATIC.joinpath(name)
    if suffix not in STATIC_TYPES or "/" in name or not resource.is_file():
        raise HTTPException(404, "no such file")
    return Response(
        resource.read_bytes(),
        media_type=STATIC_TYPES[suffix],
        headers={"Cache-Control": "public, max-age=300"},
    )
