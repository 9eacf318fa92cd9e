"""One authentication scheme for every service: bearer JWTs (EdDSA) checked against a JWKS.

Claims: `iss`, `aud`, `sub`, `iat`, `exp`, `jti`, `role` (integration | agency | operator |
monitoring), and `source` for an integration or `agency` for an agency. The header's `kid`
names the key. The issuer keeps the private keys; services only verify.

Keys and revocations are two files the issuer writes and every service reads:

- the JWKS (`<P>_JWT_JWKS_FILE`) holds every public key that may verify. Rotation is: add a
  new key and sign with it while the old one still verifies; drop the old one when its
  tokens are gone. A token whose `kid` is not in the file is refused.
- the revocation list (`revoked.json` beside it, or `<P>_JWT_REVOKED_FILE`) holds the `jti`s
  of revoked tokens, each with the time after which it needs no listing (its `exp`).

Each verifier looks at both files' size and modification time at most every
`<P>_JWT_REFRESH_SECONDS` (10 s) while tokens arrive, and re-reads a file that changed; so a
revocation or a dropped key takes effect on every service, every worker process, within that
interval plus however long the files take to reach it. Why files: they travel the way the
public keys already do (a volume, a ConfigMap or Secret), a service needs nothing running to
check a token, and a check costs no I/O per request. A half-written or broken file is logged
and the last good one kept until the next check.

People (agency staff, operators, monitoring) get short tokens: a lifetime over
MAX_PERSON_TTL (`exp - iat`) is refused whatever the signature; integrations' machine tokens
live as long as their issuer chose.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from appeals_platform.problems import Refused

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
ISSUER = "appeals-token"
AUDIENCE = "appeals-platform"
REVOKED_FILE = "revoked.json"
# The longest a person's token may live: a working day and a bit.
MAX_PERSON_TTL = 12 * 3600
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti", "role"]


class Role(StrEnum):
    INTEGRATION = "integration"
    AGENCY = "agency"
    OPERATOR = "operator"
    MONITORING = "monitoring"


# Roles held by people; integrations are machines.
PERSON_ROLES = frozenset({Role.AGENCY, Role.OPERATOR, Role.MONITORING})


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    role: Role
    source: str | None = None
    agency: str | None = None


class AuthError(Exception):
    pass


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """An Ed25519 public key from its JWK (RFC 8037: kty OKP, crv Ed25519, x)."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise ValueError("every key must be an Ed25519 JWK (kty OKP, crv Ed25519, x)")
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def read_key_set(path: Path) -> dict[str, Ed25519PublicKey]:
    """kid -> public key, from a JWKS file; ValueError for a file that is not one."""
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from exc
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in document.get("keys", []) if isinstance(document, dict) else []:
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        if not isinstance(kid, str) or not kid:
            raise ValueError(f"{path}: every key needs a kid")
        keys[kid] = public_key_from_jwk(jwk)
    if not keys:
        raise ValueError(f"{path} holds no keys")
    return keys


def read_revoked(path: Path) -> frozenset[str]:
    """The revoked jtis; no file is no revocation."""
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return frozenset()
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from exc
    entries = document.get("revoked", []) if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: 'revoked' must be a list")
    return frozenset(str(e["jti"]) for e in entries if isinstance(e, dict) and "jti" in e)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    expires: float
    jti: str
    kid: str


class TokenVerifier:
    """Verifies bearer tokens against the JWKS file, refusing revoked `jti`s."""

    def __init__(
        self,
        jwks_file: Path,
        revoked_file: Path | None = None,
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        refresh_seconds: float = 10.0,
    ) -> None:
        self.jwks_file = jwks_file
        self.revoked_file = revoked_file or jwks_file.with_name(REVOKED_FILE)
        self.issuer = issuer
        self.audience = audience
        self.refresh_seconds = refresh_seconds
        self._keys = read_key_set(self.jwks_file)
        self._revoked = read_revoked(self.revoked_file)
        self._seen = (_signature(self.jwks_file), _signature(self.revoked_file))
        self._next_check = time.monotonic() + refresh_seconds
        # Integrations send the same token with every request: a signature checked once is
        # remembered until the token expires. Bounded, holds no secrets, and emptied whenever
        # the keys change; a revoked jti is refused on a hit as on a miss.
        self._verified: dict[str, VerifiedToken] = {}

    @property
    def key_ids(self) -> frozenset[str]:
        self.refresh()
        return frozenset(self._keys)

    def refresh(self) -> None:
        """Re-read the JWKS and the revocation list if they changed (at most every interval)."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.refresh_seconds
        seen = (_signature(self.jwks_file), _signature(self.revoked_file))
        if seen == self._seen:
            return
        try:
            keys = read_key_set(self.jwks_file) if seen[0] != self._seen[0] else self._keys
            revoked = read_revoked(self.revoked_file) if seen[1] != self._seen[1] else None
        except (OSError, ValueError) as exc:
            # A file caught half-written, or broken: keep the last good one, look again later.
            log.warning("token keys or revocations not reloaded: %s", exc)
            return
        if keys is not self._keys:
            self._keys = keys
            self._verified.clear()
            log.info("token keys reloaded: %d", len(keys), extra={"count": len(keys)})
        if revoked is not None:
            self._revoked = revoked
            log.info("token revocations reloaded: %d", len(revoked), extra={"count": len(revoked)})
        self._seen = seen

    def is_revoked(self, jti: str) -> bool:
        self.refresh()
        return jti in self._revoked

    def verify(self, token: str) -> Principal:
        return self.verify_claims(token).principal

    def verify_claims(self, token: str) -> VerifiedToken:
        self.refresh()
        cached = self._verified.get(token)
        if cached is None or cached.expires <= time.time():
            cached = self._verify(token)
            if len(self._verified) >= 4096:
                self._verified.clear()
            self._verified[token] = cached
        if cached.jti in self._revoked:
            raise AuthError("the token was revoked")
        return cached

    def _verify(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("invalid token: no key id (kid) in its header")
        key = self._keys.get(kid)
        if key is None:
            raise AuthError("invalid token: its key id is not among the keys that verify")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        try:
            principal = Principal(
                subject=claims["sub"],
                role=Role(claims["role"]),
                source=claims.get("source"),
                agency=claims.get("agency"),
            )
        except ValueError as exc:
            raise AuthError(f"invalid token claims: {exc}") from exc
        if principal.role is Role.INTEGRATION and not principal.source:
            raise AuthError("an integration token must carry its source")
        if principal.role is Role.AGENCY and not principal.agency:
            raise AuthError("an agency token must carry its agency code")
        if principal.role in PERSON_ROLES and claims["exp"] - claims["iat"] > MAX_PERSON_TTL:
            raise AuthError(
                f"a {principal.role.value} token may live at most {MAX_PERSON_TTL // 3600} hours"
            )
        return VerifiedToken(principal, float(claims["exp"]), str(claims["jti"]), kid)


# Declares the scheme in the OpenAPI documents; the 401 itself is ours (problem+json).
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(request: Request, token: str | None) -> Principal:
    verifier: TokenVerifier = request.app.state.verifier
    if token is None:
        raise Refused(
            401, "missing bearer token", headers={"WWW-Authenticate": 'Bearer realm="appeals"'}
        )
    try:
        return verifier.verify(token)
    except AuthError as exc:
        raise Refused(
            401,
            "invalid bearer token",
            str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: 401 without a valid token, 403 for a token of another role.

    The roles go into the OpenAPI document as the bearer requirement's roles (OpenAPI 3.1
    lets a non-OAuth scheme list the roles an operation needs).
    """
    names = [role.value for role in roles]

    # async, so FastAPI calls it on the event loop instead of a worker thread per request.
    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(BEARER, scopes=names),
    ) -> Principal:
        token = credentials.credentials.strip() if credentials is not None else None
        principal = authenticate(request, token or None)
        if principal.role not in roles:
            raise Refused(
                403,
                "role not allowed",
                f"role '{principal.role.value}' may not do this ({', '.join(names)})",
            )
        return principal

    return dependency
