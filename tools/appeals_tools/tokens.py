"""Key pairs and tokens for local use: `appeals-token keygen` and `appeals-token issue`."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appeals_platform.auth import ALGORITHM, AUDIENCE, Role

PRIVATE = "jwt-private.pem"
PUBLIC = "jwt-public.pem"


def default_key_dir() -> Path:
    if env := os.environ.get("APPEALS_KEY_DIR"):
        return Path(env)
    from appeals_tools.stack.layout import project_root

    return project_root() / ".local" / "keys"


def ensure_keys(directory: Path) -> tuple[Path, Path]:
    """Create an Ed25519 key pair once; later calls return the existing files."""
    private, public = directory / PRIVATE, directory / PUBLIC
    if private.exists() and public.exists():
        return private, public
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def issue_token(
    private_key_pem: bytes,
    role: Role,
    *,
    source: str | None = None,
    agency: str | None = None,
    subject: str | None = None,
    ttl_seconds: int = 30 * 24 * 3600,
) -> str:
    if role is Role.INTEGRATION and not source:
        raise ValueError("an integration token needs a source (e.g. egov-portal)")
    if role is Role.AGENCY and not agency:
        raise ValueError("an agency token needs an agency code (e.g. KRG-POLICE)")
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": subject or f"{role.value}:{source or agency or uuid.uuid4().hex[:8]}",
        "role": role.value,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if source:
        claims["source"] = source
    if agency:
        claims["agency"] = agency
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appeals-token", description=__doc__)
    parser.add_argument("--keys", type=Path, default=None, help="key folder (.local/keys)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("keygen", help="create the key pair if missing and print its paths")
    issue = sub.add_parser("issue", help="print a token on the last line")
    issue.add_argument("--role", required=True, choices=[r.value for r in Role])
    issue.add_argument("--source", default=None, help="integration source, e.g. egov-portal")
    issue.add_argument("--agency", default=None, help="agency code, e.g. KRG-AKIMAT")
    issue.add_argument("--ttl-days", type=int, default=30)
    args = parser.parse_args(argv)
    private, public = ensure_keys(args.keys or default_key_dir())
    if args.command == "keygen":
        print(f"private key: {private}\npublic key:  {public}")
        return 0
    try:
        token = issue_token(
            private.read_bytes(),
            Role(args.role),
            source=args.source or None,
            agency=args.agency or None,
            ttl_seconds=args.ttl_days * 24 * 3600,
        )
    except ValueError as exc:
        print(f"appeals-token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
