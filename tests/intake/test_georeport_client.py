"""The third-party `georeport` client (PyPI) reads intake's Open311 API over real HTTP.

The client is synchronous (`requests`), so intake runs under uvicorn on a free loopback port
inside the test, and each client call runs in a thread, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from georeport import GeoReport

from appeals_platform.auth import Role
from intake.app import create_app
from intake.config import Settings
from tests.conftest import Stack, TokenFactory
from tests.services import settings_for

pytestmark = pytest.mark.infra

CALL_TIMEOUT = 30.0
T = TypeVar("T")


@pytest.fixture
async def open311_root(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory
) -> AsyncIterator[str]:
    """Intake served over HTTP on 127.0.0.1 (a port the kernel picks); its Open311 root."""
    app = create_app(settings_for(Settings, database, stack, key_dir))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(300):
            if server.started or serving.done():
                break
            await asyncio.sleep(0.1)
        assert server.started, "intake did not start under uvicorn"
        yield f"http://127.0.0.1:{port}/open311/v2"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
        sock.close()


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.wait_for(asyncio.to_thread(function, *args, **kwargs), CALL_TIMEOUT)


async def post_reports(root: str, token: TokenFactory) -> tuple[list[str], str]:
    """Two published reports and an unpublished one, posted as GeoReport forms."""
    key = token(Role.INTEGRATION, source="city-311")
    ids: list[str] = []
    async with httpx.AsyncClient(timeout=CALL_TIMEOUT) as client:
        for index, public in enumerate(("true", "true", "false")):
            response = await client.post(
                f"{root}/requests.json",
                data={
                    "api_key": key,
                    "service_code": "URBAN-WASTE",
                    "lat": "49.8047",
                    "long": "73.1094",
                    "address_string": f"г. Караганда, ул. Ерубаева {10 + index}",
                    "description": f"Контейнеры переполнены, звоните +7 701 234 56 7{index}",
                    "first_name": "Айгерим",
                    "public": public,
                },
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()[0]["service_request_id"])
    return ids[:2], ids[2]


@pytest.mark.parametrize("output_format", ["json", "xml"])
async def test_the_georeport_client_reads_services_a_definition_and_requests(
    open311_root: str, token: TokenFactory, output_format: str
) -> None:
    published, unpublished = await post_reports(open311_root, token)
    client = GeoReport(open311_root, output_format=output_format)

    services = await call(client.get_service_list)
    assert len(services) == 37
    waste = next(s for s in services if s["service_code"] == "URBAN-WASTE")
    assert waste["service_name"] and waste["group"] and waste["type"] == "realtime"
    assert str(waste["metadata"]).lower() == "false"

    definition = await call(client.get_service_definition, "URBAN-WASTE")
    assert definition["service_code"] == "URBAN-WASTE"
    assert not definition["attributes"]  # [] in JSON, an empty element in XML

    requests = await call(client.get_service_requests)
    assert {r["service_request_id"] for r in requests} == set(published)
    assert all(r["address"] == "г. Караганда, ул. Ерубаева" for r in requests)
    assert all(
        "+7 701" not in r["description"] and "Айгерим" not in r["description"] for r in requests
    )
    filtered = await call(client.get_service_requests, service_code="URBAN-WASTE", status="open")
    assert {r["service_request_id"] for r in filtered} == set(published)

    one = await call(client.get_service_request, published[0])
    assert one["service_request_id"] == published[0] and one["status"] == "open"
    assert unpublished not in {r["service_request_id"] for r in requests}
