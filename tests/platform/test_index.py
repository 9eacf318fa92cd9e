"""Every service answers `GET /` with its links; a browser at deadlines' root gets the dashboard."""

from __future__ import annotations

import importlib
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from appeals_platform.auth import TokenVerifier

SERVICES = ["intake", "routing", "deadlines"]
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _app(service: str) -> FastAPI:
    app: FastAPI = importlib.import_module(f"{service}.app").create_app()
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    # Not started: the index, the documents and the probes answer without Kafka or PostgreSQL.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("service", SERVICES)
async def test_the_root_lists_the_documents_probes_and_api_roots_and_every_link_exists(
    service: str, key_dir: Path
) -> None:
    app = _app(service)
    # What the lifespan would set: the API roots answer 401 to this unauthenticated client.
    app.state.verifier = TokenVerifier(key_dir / "jwks.json")
    async with _client(app) as client:
        answer = await client.get("/", headers={"Accept": "application/json"})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        index = answer.json()
        assert index["service"] == service
        links = index["links"]
        assert {"docs", "openapi", "health", "ready", "metrics"} <= set(links)
        assert len(links) > 5, "the service's own API roots are listed too"
        documented = set(app.openapi()["paths"])
        for name, link in links.items():
            if "{" in link:
                assert link in documented, f"{name}: {link} is not a path of {service}"
            else:
                assert (await client.get(link)).status_code != 404, f"{name}: {link}"


@pytest.mark.parametrize("service", SERVICES)
async def test_the_root_is_documented_in_openapi_with_its_schema(service: str) -> None:
    openapi = _app(service).openapi()
    ok = openapi["paths"]["/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/Index"}
    assert set(openapi["components"]["schemas"]["Index"]["required"]) == {
        "service",
        "title",
        "links",
    }


async def test_a_browser_at_the_deadlines_root_is_sent_to_the_dashboard() -> None:
    async with _client(_app("deadlines")) as client:
        answer = await client.get("/", headers={"Accept": BROWSER})
        assert answer.status_code == 307
        assert answer.headers["location"] == "/dashboard"
        assert (await client.get("/", headers={"Accept": "*/*"})).json()["service"] == "deadlines"
        preferring_json = "application/json,text/html;q=0.5"
        assert (await client.get("/", headers={"Accept": preferring_json})).status_code == 200


@pytest.mark.parametrize("service", ["intake", "routing"])
async def test_a_browser_at_a_root_without_pages_gets_the_index(service: str) -> None:
    async with _client(_app(service)) as client:
        answer = await client.get("/", headers={"Accept": BROWSER})
        assert answer.status_code == 200
        assert answer.json()["service"] == service
