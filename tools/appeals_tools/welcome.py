"""What `make run` prints once everything is up: where to look, and tokens to try it with."""

from __future__ import annotations

from appeals_platform.auth import Role
from appeals_platform.kafka import librdkafka_config
from appeals_tools.credentials import issue, party
from appeals_tools.stack.kafka import bootstrap_servers
from appeals_tools.stack.layout import Layout, project_root
from appeals_tools.stack.postgres import database_url
from appeals_tools.stack.services import instances, service_port
from appeals_tools.tokens import MACHINE_TTL, PERSON_TTL, ensure_keys, issue_token, signing_key


def main() -> None:
    keys = Layout(project_root()).local / "keys"
    ensure_keys(keys)
    key = signing_key(keys)
    tokens = {
        "integration (egov-portal)": issue_token(key, Role.INTEGRATION, source="egov-portal"),
        "agency (KRG-KARAGANDA-AKIMAT)": issue_token(
            key, Role.AGENCY, agency="KRG-KARAGANDA-AKIMAT"
        ),
        "operator": issue_token(key, Role.OPERATOR),
        "monitoring": issue_token(key, Role.MONITORING),
    }
    print("\nThe appeals platform is running.\n")
    every = instances(Layout(project_root()))
    for _, _, name, port in every:
        print(f"  {name:10} http://127.0.0.1:{port}/   (links: /docs /health /ready /metrics)")
    dashboard = next(i.port for i in every if i.service == "deadlines")
    print(f"  dashboard  http://127.0.0.1:{dashboard}/dashboard  (sign in: the monitoring token)")
    print(f"  kafka      {bootstrap_servers()}")
    print(
        f"  postgres   {database_url(secret=False)} (admin, for set-up; each service logs in "
        "as its own role; passwords in .local/secrets/)"
    )
    print(
        f"\nTokens (people {PERSON_TTL // 3600} hours, integrations {MACHINE_TTL // 86400} days; "
        "more with `make token ROLE=... SOURCE=... AGENCY=... TTL=...`; revoke one with "
        "`python -m appeals_tools.tokens revoke --token ...`):"
    )
    for name, token in tokens.items():
        print(f"  {name}:\n    {token}")
    agency = party("agency", "KRG-KARAGANDA-AKIMAT")
    properties = librdkafka_config(issue(Layout(project_root()), agency))
    properties["group.id"] = agency.group or ""
    print(
        f"\nKafka as agency KRG-KARAGANDA-AKIMAT (reads only {agency.reads[0]}; any agency:"
        "\n  `.venv/bin/appeals-kafka credentials agency KRG-POLICE`), librdkafka properties:"
    )
    for name, value in properties.items():
        print(f"  {name}={value}")
    print(
        "\nTry it:\n"
        "  head -1 examples/appeals-dev.jsonl | curl -X POST \\\n"
        f"    http://127.0.0.1:{service_port('intake')}/v1/appeals "
        "-H 'Content-Type: application/json' \\\n"
        "    -H 'Authorization: Bearer <integration token>' --data @-\n"
        "  make demo                 # a steady stream of realistic appeals\n"
        "  make logs NAME=routing    # follow a service\n"
        "  make down                 # stop everything\n"
    )


if __name__ == "__main__":
    main()
