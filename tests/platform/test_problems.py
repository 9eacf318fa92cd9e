"""Every refusal, whoever raises it, is one problem+json shape, and the OpenAPI document says so
for every operation without each route repeating it."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI, Query, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from appeals_platform.api import BodyLimit, UrlGuard, install_error_handlers, json_body
from appeals_platform.auth import Principal, Role, TokenVerifier, require
from appeals_platform.openapi import install_openapi, json_request, refusals
from appeals_platform.problems import FieldProblem, Problem, Refused
from appeals_tools.tokens import SigningKey, ensure_keys, issue_token, signing_key


class Note(BaseModel):
    text: str


def tiny_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.verifier = verifier
    install_error_handlers(app)
    install_openapi(app)

    @app.post("/notes", responses=refusals(409), openapi_extra=json_request(Note))
    async def add_note(
        request: Request, principal: Principal = Depends(require(Role.OPERATOR))
    ) -> dict[str, str]:
        body = await json_body(request)
        if body.get("text") == "taken":
            raise Refused(
                409,
                "the note exists",
                "a note with this text was added before",
                problems=[FieldProblem(field="text", message="is taken")],
                headers={"Link": "</notes/1>"},
            )
        return {"text": str(body.get("text"))}

    @app.get("/notes")
    async def list_notes(limit: int = Query(10, ge=1, le=100)) -> dict[str, int]:
        return {"limit": limit}

    @app.put("/notes/{number}")
    async def replace_note(number: int, note: Note) -> dict[str, str]:
        return {"text": note.text}

    @app.get("/notes/{number}")
    async def read_note(number: int, lang: str = "ru") -> dict[str, str]:
        return {"lang": lang}

    app.add_middleware(BodyLimit, limit=64)
    app.add_middleware(UrlGuard)
    return app


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningKey, TokenVerifier]:
    folder = tmp_path_factory.mktemp("keys")
    jwks = ensure_keys(folder)
    return signing_key(folder), TokenVerifier(jwks)


@pytest.fixture(scope="module")
def client(keys: tuple[SigningKey, TokenVerifier]) -> TestClient:
    return TestClient(tiny_app(keys[1]))


@pytest.fixture(scope="module")
def operator(keys: tuple[SigningKey, TokenVerifier]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(keys[0], Role.OPERATOR)}"}


def problem_of(response: object, status: int) -> dict[str, object]:
    """The body, checked to be a problem document of `status`."""
    assert getattr(response, "status_code", None) == status, getattr(response, "text", None)
    headers = getattr(response, "headers", {})
    assert headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    Problem.model_validate(body)
    assert body["status"] == status and body["type"] == "about:blank"
    return body


def test_a_refusal_raised_by_a_handler_keeps_its_detail_problems_and_headers(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.post("/notes", json={"text": "taken"}, headers=operator)
    body = problem_of(response, 409)
    assert body == {
        "type": "about:blank",
        "title": "the note exists",
        "status": 409,
        "detail": "a note with this text was added before",
        "problems": [{"field": "text", "message": "is taken"}],
    }
    assert response.headers["link"] == "</notes/1>"


def test_no_token_is_401_with_a_challenge_and_another_role_is_403(
    client: TestClient, keys: tuple[SigningKey, TokenVerifier]
) -> None:
    missing = client.post("/notes", json={"text": "a"})
    assert problem_of(missing, 401)["title"] == "missing bearer token"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = client.post("/notes", json={"text": "a"}, headers={"Authorization": "Bearer x.y"})
    assert problem_of(forged, 401)["title"] == "invalid bearer token"
    agency = issue_token(keys[0], Role.AGENCY, agency="KRG-POLICE")
    other = client.post("/notes", json={"text": "a"}, headers={"Authorization": f"Bearer {agency}"})
    assert "agency" in str(problem_of(other, 403)["detail"])


def test_a_malformed_body_is_400_and_another_media_type_415(
    client: TestClient, operator: dict[str, str]
) -> None:
    json_headers = {**operator, "Content-Type": "application/json"}
    assert problem_of(client.post("/notes", content=b"{", headers=json_headers), 400)
    text = {**operator, "Content-Type": "text/plain"}
    assert problem_of(client.post("/notes", content=b"{}", headers=text), 415)
    # The same for a body FastAPI parses itself.
    assert problem_of(client.put("/notes/1", content=b"{", headers=json_headers), 400)


def test_invalid_parameters_and_bodies_are_422_naming_each_field(client: TestClient) -> None:
    query = problem_of(client.get("/notes", params={"limit": "0"}), 422)
    assert query["problems"] == [{"field": "query.limit", "message": "must be at least 1"}]
    body = problem_of(client.put("/notes/x", json={}), 422)
    assert body["problems"] == [
        {"field": "path.number", "message": "must be an integer"},
        {"field": "text", "message": "is required"},
    ]


def test_no_route_is_404_a_wrong_method_405_and_a_large_body_413(client: TestClient) -> None:
    assert problem_of(client.get("/nothing-here"), 404)["title"] == "not found"
    assert problem_of(client.delete("/notes"), 405)
    large = client.put("/notes/1", json={"text": "x" * 100})
    assert problem_of(large, 413)["detail"] == "the limit is 64 bytes"


def test_the_document_lists_every_refusal_with_the_problem_schema(
    keys: tuple[SigningKey, TokenVerifier],
) -> None:
    document = tiny_app(keys[1]).openapi()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    add = document["paths"]["/notes"]["post"]
    assert add["security"] == [{"bearer": ["operator"]}]
    assert add["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Note")
    assert sorted(add["responses"]) == [
        "200",
        "400",
        "401",
        "403",
        "409",
        "413",
        "415",
        "422",
        "503",
    ]
    listed = document["paths"]["/notes"]["get"]["responses"]
    assert sorted(listed) == ["200", "422"]
    for item in document["paths"].values():
        for operation in item.values():
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    assert response["content"] == problem, (code, operation["operationId"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "Problem" in document["components"]["schemas"]


def test_a_nul_anywhere_in_the_url_or_a_json_body_is_a_422(
    client: TestClient, operator: dict[str, str]
) -> None:
    assert problem_of(client.get("/notes/1", params={"lang": "r\x00u"}), 422)["problems"] == [
        {"field": "url", "message": "must not contain a NUL character"}
    ]
    assert problem_of(client.get("/notes/1%00"), 422)
    nul = client.post("/notes", json={"text": "a", "tags": ["x", "\x00"]}, headers=operator)
    assert problem_of(nul, 422)["problems"] == [
        {"field": "tags[1]", "message": "must not contain a NUL character"}
    ]


def test_a_wrong_method_names_every_method_of_the_path(client: TestClient) -> None:
    response = client.patch("/notes")
    assert problem_of(response, 405)
    assert set(response.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_text_parameters_are_documented_without_nul(keys: tuple[bytes, TokenVerifier]) -> None:
    [*_, lang] = tiny_app(keys[1]).openapi()["paths"]["/notes/{number}"]["get"]["parameters"]
    assert lang["schema"]["pattern"] == "^[^\\u0000]*$"
