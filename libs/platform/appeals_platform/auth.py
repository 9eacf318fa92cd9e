"""One authentication scheme for every service: bearer JWTs (EdDSA) checked with a public key.

Claims: `sub`, `role` (integration | agency | operator | monitoring), and `source` for an
integration or `agency` for an agency. The issuer keeps the private key; services only verify.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from appeals_platform.problems import Refused

ALGORITHM = "EdDSA"
AUDIENCE = "appeals-platform"


class Role(StrEnum):
    INTEGRATION = "integration"
    AGENCY = "agency"
    OPERATOR = "operator"
    MONITORING = "monitoring"


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    role: Role
    source: str | None = None
    agency: str | None = None


class AuthError(Exception):
    pass


class TokenVerifier:
    def __init__(self, public_key_pem: bytes) -> None:
        # Parsed once: handing PyJWT the PEM makes it parse the key again on every request.
        key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the JWT public key must be an Ed25519 key (appeals-token keygen)")
        self._key = key
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_file(cls, path: Path) -> TokenVerifier:
        return cls(path.read_bytes())

    def verify(self, token: str) -> Principal:
        # Integrations send the same token with every request: a signature checked once is
        # remembered until the token expires (the cache is bounded and holds no secrets).
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires = self._verify(token)
        if len(self._verified) >= 4096:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["sub", "role", "exp"]},
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
        return principal, float(claims["exp"])


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
