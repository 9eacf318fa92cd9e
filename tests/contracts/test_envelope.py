"""Event ids: uuid5 of the appeal, the kind of fact and the hop, the same on every replay."""

from __future__ import annotations

import uuid

import pytest

from appeals_contracts.envelope import EVENT_ID_NAMESPACE, event_id


@pytest.mark.parametrize("kind", ["received", "assigned", "delivered", "redirected", "тест"])
@pytest.mark.parametrize("hop", [0, 1, 2, 17])
def test_event_id_is_the_uuid5_of_appeal_kind_and_hop(kind: str, hop: int) -> None:
    for appeal in (uuid.uuid4(), str(uuid.uuid4())):
        expected = str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{appeal}/{kind}/{hop}"))
        assert event_id(appeal, kind, hop) == expected
        assert uuid.UUID(expected).version == 5
