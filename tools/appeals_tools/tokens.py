"""Keys, tokens and revocations: `appeals-token keygen|issue|rotate|retire|keys|revoke|revoked`.

A key folder (`.local/keys`, or `--keys`) holds what every service reads:

    jwks.json      the public keys that verify (`<P>_JWT_JWKS_FILE`), each with its `kid`
    revoked.json   the revoked tokens' `jti`s, each kept until the token would have expired

and, under `signing/` (or `--signing`, a folder the services never mount), the private keys,
one `<kid>.pem` each (mode 0600), with `current` naming the one that signs. Files are
replaced atomically (written beside, then renamed), so a service never reads half a file.

Rotation: `rotate` adds a key and signs with it from then on, while the old key still
verifies; `retire <kid>` drops the old one once its tokens have expired (people's live at
most 12 hours). Revocation: `revoke --jti ...` (or `--token ...`) lists the token; every
service refuses it within its refresh interval (10 s by default).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appeals_platform.auth import (
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    MAX_PERSON_TTL,
    PERSON_ROLES,
    REVOKED_FILE,
    Role,
)

JWKS_FILE = "jwks.json"
SIGNING_FOLDER = "signing"
CURRENT = "current"
# Default lifetimes: a person's working day; an integration's machine token, a month.
PERSON_TTL = 8 * 3600
MACHINE_TTL = 30 * 24 * 3600
TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def default_key_dir() -> Path:
    if env := os.environ.get("APPEALS_KEY_DIR"):
        return Path(env)
    from appeals_tools.stack.layout import Layout, project_root

    return Layout(project_root()).local / "keys"


def signing_dir(keys: Path, signing: Path | None = None) -> Path:
    return signing or keys / SIGNING_FOLDER


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write beside and rename: a reader sees the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(partial, mode)
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _jwk(kid: str, key: Ed25519PrivateKey) -> dict[str, str]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": ALGORITHM}


def read_jwks(keys: Path) -> list[dict[str, Any]]:
    path = keys / JWKS_FILE
    if not path.exists():
        return []
    return list(orjson.loads(path.read_bytes()).get("keys", []))


def write_jwks(keys: Path, entries: list[dict[str, Any]]) -> None:
    document = orjson.dumps({"keys": entries}, option=orjson.OPT_INDENT_2)
    write_atomically(keys / JWKS_FILE, document + b"\n", 0o644)


def add_key(keys: Path, signing: Path | None = None) -> str:
    """A new key pair: its public half joins the JWKS, its private half signs from now on."""
    folder = signing_dir(keys, signing)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    kid = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomically(folder / f"{kid}.pem", pem, 0o600)
    # The public key is published before it signs anything, so no token names an unknown kid.
    write_jwks(keys, [*read_jwks(keys), _jwk(kid, key)])
    write_atomically(folder / CURRENT, kid.encode() + b"\n", 0o600)
    return kid


def ensure_keys(keys: Path, signing: Path | None = None) -> Path:
    """The JWKS file, with a first key pair made if there is none; later calls change nothing."""
    if not read_jwks(keys) or not (signing_dir(keys, signing) / CURRENT).exists():
        add_key(keys, signing)
    return keys / JWKS_FILE


def retire_key(keys: Path, kid: str, signing: Path | None = None) -> None:
    """Drop a key from the JWKS (tokens it signed stop verifying) and delete its private half."""
    folder = signing_dir(keys, signing)
    if (folder / CURRENT).exists() and (folder / CURRENT).read_text().strip() == kid:
        raise ValueError(f"{kid} is the key that signs now: rotate first")
    entries = read_jwks(keys)
    kept = [e for e in entries if e.get("kid") != kid]
    if len(kept) == len(entries):
        raise ValueError(f"no key {kid} in {keys / JWKS_FILE}")
    write_jwks(keys, kept)
    (folder / f"{kid}.pem").unlink(missing_ok=True)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: bytes


def signing_key(keys: Path, signing: Path | None = None) -> SigningKey:
    """The key that signs now (`signing/current`)."""
    folder = signing_dir(keys, signing)
    kid = (folder / CURRENT).read_text().strip()
    return SigningKey(kid, (folder / f"{kid}.pem").read_bytes())


def default_ttl(role: Role) -> int:
    return PERSON_TTL if role in PERSON_ROLES else MACHINE_TTL


def issue_token(
    key: SigningKey,
    role: Role,
    *,
    source: str | None = None,
    agency: str | None = None,
    subject: str | None = None,
    ttl_seconds: int | None = None,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
) -> str:
    """A signed token; people's live PERSON_TTL (at most MAX_PERSON_TTL), machines' a month."""
    if role is Role.INTEGRATION and not source:
        raise ValueError("an integration token needs a source (e.g. egov-portal)")
    if role is Role.AGENCY and not agency:
        raise ValueError("an agency token needs an agency code (e.g. KRG-POLICE)")
    ttl = default_ttl(role) if ttl_seconds is None else ttl_seconds
    if role in PERSON_ROLES and ttl > MAX_PERSON_TTL:
        raise ValueError(
            f"a {role.value} token may live at most {MAX_PERSON_TTL // 3600} hours "
            "(services refuse longer ones)"
        )
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or f"{role.value}:{source or agency or uuid.uuid4().hex[:8]}",
        "role": role.value,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if source:
        claims["source"] = source
    if agency:
        claims["agency"] = agency
    return jwt.encode(claims, key.private_pem, algorithm=ALGORITHM, headers={"kid": key.kid})


def token_id(token: str) -> tuple[str, datetime]:
    """(jti, expiry) of a token, read without checking it: enough to revoke it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ValueError(f"not a token: {exc}") from exc
    if "jti" not in claims or "exp" not in claims:
        raise ValueError("the token has no jti or exp")
    return str(claims["jti"]), datetime.fromtimestamp(int(claims["exp"]), UTC)


def read_revocations(keys: Path) -> list[dict[str, str]]:
    path = keys / REVOKED_FILE
    if not path.exists():
        return []
    return list(orjson.loads(path.read_bytes()).get("revoked", []))


def revoke(keys: Path, jti: str, until: datetime) -> None:
    """List `jti` as revoked until `until` (its token's expiry); expired entries go."""
    now = datetime.now(UTC)
    kept = [
        e
        for e in read_revocations(keys)
        if e.get("jti") != jti and datetime.fromisoformat(e["until"]) > now
    ]
    kept.append({"jti": jti, "until": until.astimezone(UTC).isoformat(), "at": now.isoformat()})
    document = orjson.dumps({"revoked": kept}, option=orjson.OPT_INDENT_2)
    write_atomically(keys / REVOKED_FILE, document + b"\n", 0o644)


def parse_ttl(text: str) -> int:
    """ "8h", "30d", "90m", "45s" or plain seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a lifetime like 8h, 30d or 3600")
    return int(match[1]) * TTL_UNITS.get(match[2] or "s", 1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="appeals-token", description=__doc__)
    parser.add_argument("--keys", type=Path, default=None, help="key folder (.local/keys)")
    parser.add_argument(
        "--signing", type=Path, default=None, help="private keys' folder (<keys>/signing)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("keygen", help="create the first key pair if there is none; print the paths")
    issue = sub.add_parser("issue", help="print a token on the last line (its jti on stderr)")
    issue.add_argument("--role", required=True, choices=[r.value for r in Role])
    issue.add_argument("--source", default=None, help="integration source, e.g. egov-portal")
    issue.add_argument("--agency", default=None, help="agency code, e.g. KRG-AKIMAT")
    issue.add_argument("--subject", default=None, help="who it is for (sub)")
    issue.add_argument(
        "--ttl",
        type=parse_ttl,
        default=None,
        help=f"lifetime, e.g. 8h or 30d (people {PERSON_TTL // 3600}h, at most "
        f"{MAX_PERSON_TTL // 3600}h; integrations {MACHINE_TTL // 86400}d)",
    )
    sub.add_parser("rotate", help="add a key that signs from now on; the old ones still verify")
    retire = sub.add_parser("retire", help="drop a key: the tokens it signed stop verifying")
    retire.add_argument("kid")
    sub.add_parser("keys", help="list the keys that verify, and the one that signs")
    revoke_parser = sub.add_parser("revoke", help="revoke a token by its jti (or the token)")
    which = revoke_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--jti", default=None)
    which.add_argument("--token", default=None)
    revoke_parser.add_argument(
        "--until",
        default=None,
        help="with --jti: when the token expires (ISO-8601; default: "
        f"{MACHINE_TTL // 86400} days from now)",
    )
    sub.add_parser("revoked", help="list the revoked jtis")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    keys: Path = args.keys or default_key_dir()
    signing: Path | None = args.signing
    try:
        jwks = ensure_keys(keys, signing)
        if args.command == "keygen":
            print(f"public keys (JWKS): {jwks}\nprivate keys:       {signing_dir(keys, signing)}")
        elif args.command == "issue":
            role = Role(args.role)
            token = issue_token(
                signing_key(keys, signing),
                role,
                source=args.source or None,
                agency=args.agency or None,
                subject=args.subject,
                ttl_seconds=args.ttl,
            )
            jti, expires = token_id(token)
            print(f"jti {jti}, expires {expires.isoformat()}", file=sys.stderr)
            print(token)
        elif args.command == "rotate":
            kid = add_key(keys, signing)
            others = [e["kid"] for e in read_jwks(keys) if e["kid"] != kid]
            print(f"new signing key {kid}; still verifying: {', '.join(others) or 'none'}")
            print("retire an old key (appeals-token retire KID) once its tokens have expired")
        elif args.command == "retire":
            retire_key(keys, args.kid, signing)
            print(f"retired {args.kid}: tokens it signed are refused within a refresh interval")
        elif args.command == "keys":
            current = signing_key(keys, signing).kid
            for entry in read_jwks(keys):
                print(f"{entry['kid']}{'  (signs)' if entry['kid'] == current else ''}")
        elif args.command == "revoke":
            if args.token:
                jti, until = token_id(args.token)
            else:
                jti = args.jti
                until = (
                    datetime.fromisoformat(args.until)
                    if args.until
                    else datetime.now(UTC) + timedelta(seconds=MACHINE_TTL)
                )
                if until.tzinfo is None:
                    until = until.replace(tzinfo=UTC)
            revoke(keys, jti, until)
            print(f"revoked {jti} (listed until {until.isoformat()})")
        elif args.command == "revoked":
            for entry in read_revocations(keys):
                print(f"{entry['jti']}  until {entry['until']}")
    except (ValueError, OSError) as exc:
        print(f"appeals-token: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
