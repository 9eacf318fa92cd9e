"""SMTP: one connection per message (a digest run sends a few dozen a day), in a worker thread
so the event loop never waits on the mail server."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path


class Mailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        username: str | None = None,
        password_file: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self._starttls = starttls
        self._username = username
        self._password_file = password_file
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the server; raises smtplib.SMTPException or OSError."""
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self._username:
                password = (
                    self._password_file.read_text(encoding="utf-8").strip()
                    if self._password_file
                    else ""
                )
                smtp.login(self._username, password)
            smtp.send_message(message)
