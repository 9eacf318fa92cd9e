"""bench-pipeline's load generator (bench/pipeline, Go): built as the Makefile builds it, it
posts every body with a unique external id and the bearer token, and writes one CSV line per
request with the appeal id the server answered; open loop, it keeps its rate."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "bench" / "pipeline"


class Intake(BaseHTTPRequestHandler):
    """Answers POST /v1/appeals as intake does (201 with the appeal id), remembering what came."""

    seen: ClassVar[list[tuple[str, dict[str, str]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.headers["Authorization"], body))
        answer = json.dumps({"appeal_id": str(uuid.uuid4()), "status": "registered"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: object) -> None:
        pass


def test_the_load_generator_posts_unique_appeals_at_its_rate_and_records_each(
    tmp_path: Path,
) -> None:
    if shutil.which("go") is None:
        pytest.skip("no Go toolchain: bench-pipeline's load generator cannot be built here")
    binary = tmp_path / "loadgen"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=SOURCE, check=True)
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_text(
        '{"external_id": "__ID__", "subject": "a"}\n{"external_id": "__ID__", "subject": "b"}\n'
    )
    (tmp_path / "token").write_text("secret-token\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Intake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "requests.csv"
        run = subprocess.run(
            [
                str(binary),
                f"-url=http://127.0.0.1:{server.server_address[1]}/v1/appeals",
                f"-token-file={tmp_path / 'token'}",
                f"-bodies={bodies}",
                "-mode=rate",
                "-rate=50",
                "-duration=1s",
                "-prefix=t",
                f"-out={out}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        server.shutdown()
    summary = json.loads(run.stdout)
    lines = [line.split(",") for line in out.read_text().splitlines()]
    assert summary["sent"] == summary["ok"] == len(lines) == 50
    assert summary["skipped"] == summary["failed"] == 0
    # Its own CPU time, which bench-pipeline prints beside each phase: some, and less than the
    # whole second of sending on one thread (it runs on one by default).
    assert 0 < summary["cpu_seconds"] < 1.5
    ids = [body["external_id"] for _, body in Intake.seen]
    assert sorted(ids) == sorted(line[0] for line in lines)
    assert len(set(ids)) == 50 and all(i.startswith("t-") for i in ids)
    assert {body["subject"] for _, body in Intake.seen} == {"a", "b"}
    assert {auth for auth, _ in Intake.seen} == {"Bearer secret-token"}
    for _, sent, answered, status, appeal_id in lines:
        assert status == "201" and uuid.UUID(appeal_id)
        assert int(answered) >= int(sent)
