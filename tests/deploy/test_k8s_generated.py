"""deploy/k8s/base/generated/ is what `appeals-k8s generate` writes from the project's data:
every topic, every principal with its ACLs, the one Kafka version."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from appeals_contracts import topics
from appeals_reference import load_integrations, load_reference
from appeals_tools import k8s, principals
from appeals_tools.stack.kafka import kafka_version

ROOT = Path(__file__).resolve().parents[2]
CODES = [a.code for a in load_reference().agencies]
SOURCES = [i.source for i in load_integrations()]


def _objects(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((ROOT / k8s.GENERATED / name).read_text(encoding="utf-8")))


def test_the_committed_files_are_what_the_generator_writes() -> None:
    assert k8s.stale(ROOT) == [], "run make k8s"
    assert {p.name for p in (ROOT / k8s.GENERATED).iterdir()} == {
        p.name for p in k8s.generated(ROOT)
    }


def test_an_edited_or_missing_file_is_found_stale(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "pom.xml", tmp_path / "deploy" / "pom.xml")
    shutil.copytree(ROOT / k8s.GENERATED, tmp_path / k8s.GENERATED)
    assert k8s.stale(tmp_path) == []
    topics_file = tmp_path / k8s.GENERATED / "kafka-topics.yaml"
    topics_file.write_text(topics_file.read_text().replace("partitions: 6", "partitions: 3", 1))
    (tmp_path / k8s.GENERATED / "kafka-users.yaml").unlink()
    assert sorted(k8s.stale(tmp_path)) == [
        k8s.GENERATED / "kafka-topics.yaml",
        k8s.GENERATED / "kafka-users.yaml",
    ]
    k8s.write(tmp_path)
    assert k8s.stale(tmp_path) == []


def test_every_topic_of_the_contracts_has_its_kafka_topic_with_three_replicas() -> None:
    specs = {s.name: s for s in topics.all_topic_specs(CODES, SOURCES)}
    found = {o["metadata"]["name"]: o for o in _objects("kafka-topics.yaml")}
    assert set(found) == set(specs)
    for name in [topics.agency_topic(c) for c in CODES] + [
        topics.dead_letter_topic(topics.submission_topic(s)) for s in SOURCES
    ]:
        assert name in found
    for name, spec in specs.items():
        topic = found[name]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == k8s.CLUSTER
        assert topic["spec"] == {
            "partitions": spec.partitions,
            "replicas": 3,
            "config": {"min.insync.replicas": 2}
            | ({"retention.ms": spec.retention_ms} if spec.retention_ms is not None else {}),
        }


def _strimzi_acls(principal: principals.Principal) -> set[tuple[str, str, str, str]]:
    found = set()
    for grant in principal.grants:
        pattern = "" if grant.resource == "cluster" else grant.pattern.removesuffix("ed")
        name = "" if grant.resource == "cluster" else grant.name
        found.add((grant.resource, name, pattern, grant.operation.capitalize()))
    return found


def test_every_principal_has_a_scram_kafka_user_with_exactly_its_acls() -> None:
    every = {p.user: p for p in principals.principals(CODES, SOURCES)}
    users = {o["metadata"]["name"]: o for o in _objects("kafka-users.yaml")}
    assert set(users) == set(every)
    assert {f"agency-{c.lower()}" for c in CODES} <= set(users)
    for name, user in users.items():
        spec = user["spec"]
        assert spec["authentication"] == {"type": "scram-sha-512"}
        acls = {
            (
                rule["resource"]["type"],
                rule["resource"].get("name", ""),
                rule["resource"].get("patternType", ""),
                operation,
            )
            for rule in spec.get("authorization", {}).get("acls", [])
            for operation in rule["operations"]
        }
        assert acls == _strimzi_acls(every[name]), name
    assert "authorization" not in users[principals.ADMIN]["spec"]


def test_the_kafka_version_is_deploy_pom_xmls() -> None:
    (patch,) = _objects("kafka-version.yaml")
    assert patch["spec"] == {"kafka": {"version": kafka_version(ROOT)}}
