"""Bearer JWTs: issued by the CLI, verified with the public key, roles enforced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from appeals_platform.api import install_error_handlers
from appeals_platform.auth import AuthError, Principal, Role, TokenVerifier, require
from appeals_tools.tokens import ensure_keys, issue_token


@pytest.fixture
def keys(tmp_path: Path) -> tuple[bytes, TokenVerifier]:
    private, public = ensure_keys(tmp_path)
    return private.read_bytes(), TokenVerifier.from_file(public)


def test_an_integration_token_carries_its_source(keys: tuple[bytes, TokenVerifier]) -> None:
    private, verifier = keys
    principal = verifier.verify(issue_token(private, Role.INTEGRATION, source="egov-portal"))
    assert principal.role is Role.INTEGRATION and principal.source == "egov-portal"


def test_an_agency_token_without_an_agency_cannot_be_issued(
    keys: tuple[bytes, TokenVerifier],
) -> None:
    with pytest.raises(ValueError, match="agency"):
        issue_token(keys[0], Role.AGENCY)


def test_a_token_signed_by_another_key_is_refused(
    tmp_path: Path, keys: tuple[bytes, TokenVerifier]
) -> None:
    other_private, _ = ensure_keys(tmp_path / "other")
    token = issue_token(other_private.read_bytes(), Role.MONITORING)
    with pytest.raises(AuthError):
        keys[1].verify(token)


def test_an_expired_token_is_refused(keys: tuple[bytes, TokenVerifier]) -> None:
    token = issue_token(keys[0], Role.OPERATOR, ttl_seconds=-10)
    with pytest.raises(AuthError, match="expired"):
        keys[1].verify(token)


def test_an_unsigned_token_is_refused(keys: tuple[bytes, TokenVerifier]) -> None:
    forged = jwt.encode(
        {"sub": "x", "role": "monitoring", "exp": 9999999999, "aud": "appeals-platform"},
        key=None,
        algorithm="none",
    )
    with pytest.raises(AuthError):
        keys[1].verify(forged)


def test_require_answers_401_without_token_and_403_for_another_role(
    keys: tuple[bytes, TokenVerifier],
) -> None:
    app = FastAPI()
    app.state.verifier = keys[1]
    install_error_handlers(app)

    @app.get("/only-monitoring")
    def only_monitoring(principal: Principal = Depends(require(Role.MONITORING))) -> str:
        return principal.subject

    client = TestClient(app)
    assert client.get("/only-monitoring").status_code == 401
    bad = client.get("/only-monitoring", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401
    integration = issue_token(keys[0], Role.INTEGRATION, source="egov-portal")
    forbidden = client.get("/only-monitoring", headers={"Authorization": f"Bearer {integration}"})
    assert forbidden.status_code == 403
    monitoring = issue_token(keys[0], Role.MONITORING)
    assert (
        client.get(
            "/only-monitoring", headers={"Authorization": f"Bearer {monitoring}"}
        ).status_code
        == 200
    )


def test_token_cli_prints_a_verifiable_token_on_its_last_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "appeals_tools.tokens",
            "--keys",
            str(tmp_path),
            "issue",
            "--role",
            "agency",
            "--agency",
            "KRG-POLICE",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    token = result.stdout.strip().splitlines()[-1]
    principal = TokenVerifier.from_file(tmp_path / "jwt-public.pem").verify(token)
    assert principal.role is Role.AGENCY and principal.agency == "KRG-POLICE"
