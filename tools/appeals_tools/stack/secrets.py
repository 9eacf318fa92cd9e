"""Secrets of this checkout's local stack: random, made once, kept under .local/ (mode 0600).

One folder per Kafka principal with one file (`.local/kafka/secrets/<user>/password`), a
service's `<P>_KAFKA_PASSWORD_FILE`; a folder each, so docker-compose can mount a service only
its own. Nothing here is ever committed: `.local/` is ignored by git.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from appeals_tools.stack.layout import Layout


def secrets_dir(layout: Layout) -> Path:
    return layout.local / "kafka" / "secrets"


def secret_file(folder: Path, name: str) -> Path:
    return folder / name / "password"


def secret(folder: Path, name: str) -> str:
    """The secret of `name`, drawn (32 random bytes, URL-safe) the first time it is asked for."""
    path = secret_file(folder, name)
    if path.exists():
        return path.read_text().strip()
    for directory in (folder, path.parent):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    value = secrets.token_urlsafe(32)
    # Created 0600 from the start (no window in which another user could read it).
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process drew it first
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as out:
        out.write(value + "\n")
    return value
