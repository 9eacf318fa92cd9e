"""`routing retrain`: labelled examples improve the classifier, and the service switches to it."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest

from routing import cli
from tests.routing_service.conftest import RoutingFactory, received, submission

pytestmark = pytest.mark.infra

PLACES = ["во дворе", "у подъезда", "на въезде", "возле школы", "у магазина", "на парковке"]
VERBS = ["поставили", "установили", "закрыли", "перегородили", "смонтировали"]


def gate_texts() -> list[str]:
    """Complaints about a barrier put up in a yard: a theme the packaged corpus lacks."""
    return [
        f"Незаконно {verb} шлагбаум {place}, проезд для скорой закрыт, номер {n}"
        for n, (verb, place) in enumerate((v, p) for v in VERBS for p in PLACES)
    ]


async def test_retrain_learns_from_labelled_examples_and_the_service_loads_the_new_model(
    start_routing: RoutingFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = tmp_path / "model.joblib"
    routing = await start_routing(model_path=model, refresh_interval=0.1)
    texts = gate_texts()
    await routing.fetch(
        "INSERT INTO routing.labelled_examples (appeal_id, text, category, origin, agency) "
        "SELECT $1::uuid, unnest($2::text[]), 'BUILD-ARCHITECTURE', 'manual', 'KRG-ARCHITECTURE'",
        str(uuid.uuid4()),
        texts,
    )
    monkeypatch.setenv("ROUTING_DATABASE_URL", routing.dsn)

    assert await asyncio.to_thread(cli.main, ["retrain", "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert f"+ {len(texts)} labelled examples" in out
    found = re.search(r"on labelled examples before: ([0-9.]+)\s+after: ([0-9.]+)", out)
    assert found is not None, out
    assert float(found.group(2)) > float(found.group(1))
    version = re.search(r"saved classifier (\w+) to", out)
    assert version is not None and model.exists()

    for _ in range(200):  # the instance notices the new model file
        history = await routing.route(
            received(submission(subject="Шлагбаум", text=texts[0], category=None))
        )
        explanation = history["hops"][0]
        used = (explanation["assignment"] or explanation["triage"])["explanation"]
        if used["classifier_version"] == version.group(1):
            break
        await asyncio.sleep(0.1)
    assert used["classifier_version"] == version.group(1)
