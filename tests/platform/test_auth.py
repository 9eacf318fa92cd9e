"""Bearer JWTs: issued by the CLI, verified against the JWKS (kid, iss, aud), rotated,
revoked by jti, roles enforced."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from appeals_platform.api import install_error_handlers
from appeals_platform.auth import (
    AUDIENCE,
    ISSUER,
    MAX_PERSON_TTL,
    AuthError,
    Principal,
    Role,
    TokenVerifier,
    require,
)
from appeals_tools.tokens import (
    JWKS_FILE,
    MACHINE_TTL,
    PERSON_TTL,
    SigningKey,
    add_key,
    ensure_keys,
    issue_token,
    retire_key,
    revoke,
    signing_key,
    token_id,
)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    ensure_keys(tmp_path)
    return tmp_path


def verifier_for(keys: Path) -> TokenVerifier:
    # Refreshes at every call: the tests change the files and look at once.
    return TokenVerifier(keys / JWKS_FILE, refresh_seconds=1e-9)


def forged(key: SigningKey, kid: str | None = None, **changes: object) -> str:
    """A token signed with `key` whose claims or kid say what the test wants."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "monitoring:test",
        "role": "monitoring",
        "iat": now,
        "exp": now + 3600,
        "jti": "forged",
        **changes,
    }
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key.private_pem, algorithm="EdDSA", headers=headers)


def test_an_integration_token_carries_its_source_and_a_kid(keys: Path) -> None:
    token = issue_token(signing_key(keys), Role.INTEGRATION, source="egov-portal")
    assert jwt.get_unverified_header(token)["kid"] == signing_key(keys).kid
    principal = verifier_for(keys).verify(token)
    assert principal.role is Role.INTEGRATION and principal.source == "egov-portal"


def test_an_agency_token_without_an_agency_cannot_be_issued(keys: Path) -> None:
    with pytest.raises(ValueError, match="agency"):
        issue_token(signing_key(keys), Role.AGENCY)


def test_people_get_hours_and_integrations_a_configurable_lifetime(keys: Path) -> None:
    key = signing_key(keys)
    for role, claims, ttl in (
        (Role.MONITORING, {}, PERSON_TTL),
        (Role.OPERATOR, {}, PERSON_TTL),
        (Role.AGENCY, {"agency": "KRG-POLICE"}, PERSON_TTL),
        (Role.INTEGRATION, {"source": "egov-portal"}, MACHINE_TTL),
    ):
        payload = jwt.decode(issue_token(key, role, **claims), options={"verify_signature": False})
        assert payload["exp"] - payload["iat"] == ttl
    assert PERSON_TTL <= MAX_PERSON_TTL <= 12 * 3600
    year = issue_token(key, Role.INTEGRATION, source="egov-portal", ttl_seconds=365 * 86400)
    assert verifier_for(keys).verify(year).source == "egov-portal"
    with pytest.raises(ValueError, match="at most 12 hours"):
        issue_token(key, Role.MONITORING, ttl_seconds=MAX_PERSON_TTL + 1)


def test_a_person_token_living_longer_than_allowed_is_refused(keys: Path) -> None:
    now = int(time.time())
    key = signing_key(keys)
    long_lived = forged(key, key.kid, iat=now, exp=now + 30 * 86400)
    with pytest.raises(AuthError, match="at most 12 hours"):
        verifier_for(keys).verify(long_lived)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "someone-else"}, "(?i)issuer"),
        ({"aud": "another-platform"}, "(?i)audience"),
        ({"exp": int(time.time()) - 10}, "expired"),
    ],
)
def test_a_token_with_a_wrong_issuer_audience_or_expiry_is_refused(
    keys: Path, changes: dict[str, object], reason: str
) -> None:
    key = signing_key(keys)
    with pytest.raises(AuthError, match=reason):
        verifier_for(keys).verify(forged(key, key.kid, **changes))


def test_a_token_without_a_kid_or_with_an_unknown_or_wrong_kid_is_refused(
    keys: Path, tmp_path: Path
) -> None:
    key = signing_key(keys)
    verifier = verifier_for(keys)
    with pytest.raises(AuthError, match="no key id"):
        verifier.verify(forged(key))
    with pytest.raises(AuthError, match="not among the keys"):
        verifier.verify(forged(key, "1999-unknown"))
    # Another key folder's key, claiming this folder's kid: the signature gives it away.
    other = signing_key(ensure_keys(tmp_path / "other").parent)
    with pytest.raises(AuthError, match="Signature"):
        verifier.verify(forged(SigningKey(key.kid, other.private_pem), key.kid))
    with pytest.raises(AuthError, match="not among the keys"):
        verifier.verify(issue_token(other, Role.MONITORING))


def test_an_unsigned_token_is_refused(keys: Path) -> None:
    unsigned = jwt.encode(
        {"sub": "x", "role": "monitoring", "exp": 9999999999, "aud": AUDIENCE, "iss": ISSUER},
        key=None,
        algorithm="none",
        headers={"kid": signing_key(keys).kid},
    )
    with pytest.raises(AuthError):
        verifier_for(keys).verify(unsigned)


def test_after_rotation_old_and_new_keys_verify_until_the_old_is_retired(keys: Path) -> None:
    verifier = verifier_for(keys)
    old_key = signing_key(keys)
    old = issue_token(old_key, Role.MONITORING)
    assert verifier.verify(old).role is Role.MONITORING
    new_kid = add_key(keys)
    new_key = signing_key(keys)
    assert new_key.kid == new_kid != old_key.kid
    new = issue_token(new_key, Role.MONITORING)
    assert verifier.verify(new).role is Role.MONITORING
    assert verifier.verify(old).role is Role.MONITORING  # both verify during the rotation
    with pytest.raises(ValueError, match="signs now"):
        retire_key(keys, new_kid)
    retire_key(keys, old_key.kid)
    with pytest.raises(AuthError, match="not among the keys"):
        verifier.verify(old)  # cached before, refused now: the cache went with the key
    assert verifier.verify(new).role is Role.MONITORING
    assert not (keys / "signing" / f"{old_key.kid}.pem").exists()


def test_a_revoked_token_is_refused_even_after_its_signature_was_cached(keys: Path) -> None:
    verifier = verifier_for(keys)
    key = signing_key(keys)
    token, other = issue_token(key, Role.OPERATOR), issue_token(key, Role.OPERATOR)
    assert verifier.verify(token).role is Role.OPERATOR
    assert verifier.verify(token).role is Role.OPERATOR  # now from the cache
    jti, expires = token_id(token)
    revoke(keys, jti, expires)
    with pytest.raises(AuthError, match="revoked"):
        verifier.verify(token)
    assert verifier.is_revoked(jti)
    assert verifier.verify(other).role is Role.OPERATOR


def test_revocations_are_read_at_most_once_per_refresh_interval(keys: Path) -> None:
    verifier = TokenVerifier(keys / JWKS_FILE, refresh_seconds=3600)
    token = issue_token(signing_key(keys), Role.OPERATOR)
    verifier.verify(token)
    revoke(keys, *token_id(token))
    assert verifier.verify(token).role is Role.OPERATOR  # not looked at yet: within the hour
    verifier.refresh_seconds = 1e-9
    verifier._next_check = 0  # the interval has passed
    with pytest.raises(AuthError, match="revoked"):
        verifier.verify(token)


def test_expired_revocations_are_dropped_when_the_list_is_written(keys: Path) -> None:
    revoke(keys, "old", datetime.now(UTC) - timedelta(seconds=1))
    revoke(keys, "fresh", datetime.now(UTC) + timedelta(hours=1))
    listed = (keys / "revoked.json").read_text()
    assert "fresh" in listed and '"old"' not in listed


def test_a_broken_key_file_keeps_the_last_good_keys(keys: Path) -> None:
    verifier = verifier_for(keys)
    token = issue_token(signing_key(keys), Role.MONITORING)
    (keys / JWKS_FILE).write_text('{"keys": [{"kty": "OKP"')
    assert verifier.verify(token).role is Role.MONITORING
    (keys / "revoked.json").write_text("not json")
    assert verifier.verify(token).role is Role.MONITORING


def test_require_answers_401_without_token_and_403_for_another_role(keys: Path) -> None:
    app = FastAPI()
    app.state.verifier = verifier_for(keys)
    install_error_handlers(app)

    @app.get("/only-monitoring")
    def only_monitoring(principal: Principal = Depends(require(Role.MONITORING))) -> str:
        return principal.subject

    client = TestClient(app)
    key = signing_key(keys)
    assert client.get("/only-monitoring").status_code == 401
    bad = client.get("/only-monitoring", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401
    integration = issue_token(key, Role.INTEGRATION, source="egov-portal")
    forbidden = client.get("/only-monitoring", headers={"Authorization": f"Bearer {integration}"})
    assert forbidden.status_code == 403
    monitoring = issue_token(key, Role.MONITORING)
    allowed = client.get("/only-monitoring", headers={"Authorization": f"Bearer {monitoring}"})
    assert allowed.status_code == 200


def appeals_token(keys: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appeals_tools.tokens", "--keys", str(keys), *args],
        check=True,
        capture_output=True,
        text=True,
    )


def test_token_cli_issues_rotates_retires_and_revokes(tmp_path: Path) -> None:
    issued = appeals_token(tmp_path, "issue", "--role", "agency", "--agency", "KRG-POLICE")
    token = issued.stdout.strip().splitlines()[-1]
    assert "jti" in issued.stderr
    verifier = verifier_for(tmp_path)
    principal = verifier.verify(token)
    assert principal.role is Role.AGENCY and principal.agency == "KRG-POLICE"
    first = jwt.get_unverified_header(token)["kid"]

    appeals_token(tmp_path, "rotate")
    rotated = appeals_token(tmp_path, "issue", "--role", "monitoring", "--ttl", "2h")
    second = rotated.stdout.strip().splitlines()[-1]
    assert jwt.get_unverified_header(second)["kid"] != first
    listed = appeals_token(tmp_path, "keys").stdout
    assert first in listed and "(signs)" in listed
    assert verifier.verify(token) and verifier.verify(second)

    appeals_token(tmp_path, "retire", first)
    with pytest.raises(AuthError):
        verifier.verify(token)

    appeals_token(tmp_path, "revoke", "--token", second)
    with pytest.raises(AuthError, match="revoked"):
        verifier.verify(second)
    assert token_id(second)[0] in appeals_token(tmp_path, "revoked").stdout
