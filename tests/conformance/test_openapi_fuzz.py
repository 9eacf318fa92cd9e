"""Schemathesis against the OpenAPI document of each service, in-process on the real PostgreSQL
and Kafka of the test stack: generated requests, valid and invalid, get no server error, and
every status, content type and body the services answer is the one their documents declare.

Each operation is called with a token of the first role its `security` names, so requests get
past authentication and reach the handlers; the `ignored_auth` check also sends them without a
token and with a broken one.
Alone: `make test PYTEST_ARGS="-q tests/conformance/test_openapi_fuzz.py"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import positive_data_acceptance

from appeals_platform.auth import Role
from appeals_tools.docs import documents
from tests.conformance.conftest import AGENCY, INTEGRATION, SERVICES, service_app
from tests.conftest import Stack, TokenFactory

# Serial: schemathesis reports each operation as a case of its own only in a plain pytest
# run; under pytest-xdist the whole schema is one item, so make test runs it after the rest.
pytestmark = [pytest.mark.infra, pytest.mark.serial]

# Examples per operation and generation mode: about a minute for the three services here.
EXAMPLES = 25


@pytest.fixture(scope="module")
def apps(
    stack: Stack, module_database: str, key_dir: Path, tmp_path_factory: Any
) -> Iterator[dict[str, FastAPI]]:
    """The three services; schemathesis starts each (its lifespan) at its first request."""
    tmp = tmp_path_factory.mktemp("fuzz")
    yield {name: service_app(name, module_database, stack, key_dir, tmp) for name in SERVICES}
    # The lifespans run in schemathesis's event loop thread: they are stopped there.
    shutdown_lifespans()


# A token per role, made once the keys exist (see `tokens`): schemathesis asks at generation.
TOKENS: dict[str, str] = {}


class RoleToken:
    """Authentication of every case: a token of the first role the operation's `security`
    names. As schemathesis's auth, not as headers of the call: it then knows which header
    is the credential, and leaves it alone when it negates a request."""

    def get(self, case: Any, ctx: Any) -> str | None:
        for requirement in case.operation.definition.raw.get("security") or ():
            for roles in requirement.values():
                if roles:
                    return TOKENS[str(roles[0])]
        return None

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def document(service: str) -> Any:
    """The document as the code builds it (the checked-in one is the same: test_docs.py)."""
    loaded = schemathesis.openapi.from_dict(documents(service)[0])
    loaded.auth(RoleToken, refresh_interval=None)
    return loaded


schema = schemathesis.pytest.parametrize(**{name: document(name) for name in SERVICES})


@pytest.fixture(scope="module", autouse=True)
def tokens(token: TokenFactory) -> None:
    TOKENS.update(
        {
            Role.INTEGRATION.value: token(Role.INTEGRATION, source=INTEGRATION),
            Role.AGENCY.value: token(Role.AGENCY, agency=AGENCY),
            Role.OPERATOR.value: token(Role.OPERATOR),
            Role.MONITORING.value: token(Role.MONITORING),
        }
    )


# Operations that refuse some schema-valid requests with 422 by design: the rule is one a JSON
# Schema cannot state. Everything else a valid request gets must be an acceptance.
RULES_BEYOND_THE_SCHEMA = {
    "POST /v1/appeals": "IIN and BIN checksums and birth dates, which applicant kind may carry "
    "which fields, submitted_at not in the future, codes of the reference data",
    "POST /v1/applicants/search": "the IIN checksum and birth date",
    "POST /v1/appeals/{appeal_id}/answer": "a ground exactly when the outcome is terminated",
    "POST /v1/appeals/{appeal_id}/assign": "agency and category codes of the reference data",
    "POST /v1/appeals/{appeal_id}/redirect": "an agency of the reference data, not one's own",
    "PUT /v1/reference": "the invariants of reference data (one competent agency per place)",
    "POST /v1/appeals/{appeal_id}/extend": "АППК art. 76(2): the two-month cap, one "
    "extension, a later date, notice within 3 working days",
    "POST /v1/what-if": "the invariants of reference data, until not before since",
    "GET /open-data/v1/monthly.json": "`from` not after `to`, at most 36 months",
    "GET /open-data/v1/monthly.csv": "`from` not after `to`, at most 36 months",
}
ACCEPTED = {"401", "403", "404", "409", "429"}


def answered_as_designed(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's positive_data_acceptance, knowing the rules above and that a deprecated
    operation answers 410 Gone."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    status = str(response.status_code)
    allowed = set(ACCEPTED)
    if case.operation.label in RULES_BEYOND_THE_SCHEMA:
        allowed.add("422")
    if case.operation.definition.raw.get("deprecated"):
        allowed.add("410")
    if status[0] not in "23" and status not in allowed:
        raise AssertionError(
            f"a schema-valid request was refused with {status}: {response.text[:300]}"
        )
    return None


@schema
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_its_document_says(case: Any, apps: dict[str, FastAPI]) -> None:
    service = str(case.operation.schema.raw_schema["info"]["title"]).removeprefix("Appeals ")
    # Set here, not at import: the app of this module's database (probes use the schema's too).
    case.operation.schema.app = case.operation.app = apps[service]
    case.call_and_validate(
        base_url="http://testserver",
        excluded_checks=[positive_data_acceptance],
        additional_checks=[answered_as_designed],
    )
