"""Every overlay of deploy/k8s renders with `kubectl kustomize` and is valid offline: core
objects against the Kubernetes schemas of a pinned version (kubernetes-validate), Strimzi,
CloudNativePG and KEDA resources against those operators' own CRD schemas (vendored in
deploy/k8s/crds). Then what no schema says: every topic and agency is there, production is
replicated, pods are hardened, secrets are referenced and never inlined, and the names the
objects share (settings, principals, roles, groups) agree with the code."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from appeals_contracts import topics
from appeals_reference import load_integrations, load_reference
from appeals_tools import principals
from appeals_tools.stack.kafka import kafka_version
from appeals_tools.stack.postgres import SERVICE_ROLES
from deadlines.config import Settings as DeadlinesSettings
from intake.config import Settings as IntakeSettings
from routing.config import Settings as RoutingSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
# The Kubernetes the manifests are checked against: within what Strimzi 1.2 (>= 1.30),
# CloudNativePG 1.30 (1.34-1.36) and KEDA 2.20 (tested 1.33-1.35) all support.
KUBERNETES = "1.34"
SETTINGS = {"intake": IntakeSettings, "routing": RoutingSettings, "deadlines": DeadlinesSettings}
# Made by the operator of an install (docs/deploy.md): never in the manifests.
OPERATOR_SECRETS = {f"pg-{role}" for role in SERVICE_ROLES} | {"appeals-jwt"}
# Made by Strimzi: the cluster CA and one Secret per KafkaUser (below).
STRIMZI_SECRETS = {"appeals-cluster-ca-cert"}
CODES = [a.code for a in load_reference().agencies]
SOURCES = [i.source for i in load_integrations()]

Object = dict[str, Any]


@cache
def render(overlay: str) -> tuple[Object, ...]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render deploy/k8s (kubectl kustomize)"
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return tuple(o for o in yaml.load_all(done.stdout, Loader=yaml.CSafeLoader) if o)


def of(objects: tuple[Object, ...], kind: str) -> dict[str, Object]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _closed(schema: Any) -> Any:
    """No field the schema does not name (as the API server prunes them, and kubeconform's
    openapi2jsonschema closes them), except where the CRD keeps unknown fields."""
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            _closed(value)
    elif isinstance(schema, list):
        for value in schema:
            _closed(value)
    return schema


@cache
def crd_schemas() -> dict[tuple[str, str], Object]:
    """(apiVersion, kind) -> the openAPIV3Schema of every served version of a vendored CRD."""
    found = {}
    for path in sorted((K8S / "crds").glob("*.yaml")):
        # libyaml: the pure-Python loader takes seconds over the ~1 MB of CRDs.
        for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    found[key] = _closed(version["schema"]["openAPIV3Schema"])
    return found


def problems(obj: Object) -> list[str]:
    """Why `obj` is invalid (nothing: valid), by its CRD's schema or Kubernetes' own."""
    name = f"{obj['kind']} {obj['metadata']['name']}"
    schema = crd_schemas().get((obj["apiVersion"], obj["kind"]))
    if schema is not None:
        errors = jsonschema.Draft7Validator(schema).iter_errors(obj)
        return [f"{name}: {'/'.join(map(str, e.path))}: {e.message}" for e in errors]
    try:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema for {obj['apiVersion']} (vendor its CRD in deploy/k8s/crds)"]
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {'/'.join(map(str, exc.path))}: {exc.message}"]
    return []


def pods(objects: tuple[Object, ...]) -> Iterator[tuple[str, Object]]:
    """Every pod template: the Deployments' and the Jobs'."""
    for kind in ("Deployment", "Job"):
        for name, obj in of(objects, kind).items():
            yield f"{kind} {name}", obj["spec"]["template"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_against_kubernetes_or_its_operators_schema(overlay: str) -> None:
    objects = render(overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "Database"} <= kinds
    assert {"ScaledObject", "TriggerAuthentication", "Deployment", "Job"} <= kinds
    assert [p for o in objects for p in problems(o)] == []


def test_the_validation_refuses_what_the_api_server_would() -> None:
    """The checks above are not vacuous: each of these mistakes is found."""
    objects = render("production")
    user = dict(of(objects, "KafkaUser")["svc-intake"])
    user["spec"] = {**user["spec"], "authentication": "scram-sha-512"}
    scaled = yaml.safe_load(yaml.safe_dump(of(objects, "ScaledObject")["routing"]))
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 100
    topic = yaml.safe_load(yaml.safe_dump(of(objects, "KafkaTopic")["intake.appeal-received"]))
    topic["spec"]["retention.ms"] = -1
    deployment = yaml.safe_load(yaml.safe_dump(of(objects, "Deployment")["intake"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    unknown = {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaTopic", "metadata": {}}
    unknown["metadata"] = {"name": "old"}
    for broken, expected in (
        (user, "is not of type 'object'"),
        (scaled, "100 is not of type 'string'"),
        (topic, "'retention.ms' was unexpected"),
        (deployment, "imagePullPolice"),
        (unknown, "no schema"),
    ):
        found = problems(broken)
        assert found and expected in " ".join(found), (broken["kind"], found)


def test_every_topic_and_agency_is_in_production() -> None:
    objects = render("production")
    names = set(of(objects, "KafkaTopic"))
    assert {s.name for s in topics.all_topic_specs(CODES, SOURCES)} <= names
    users = set(of(objects, "KafkaUser"))
    assert {p.user for p in principals.principals(CODES, SOURCES)} <= users
    for code in CODES:
        assert topics.agency_topic(code) in names, code
        assert principals.user_name(topics.agency_principal(code)) in users, code
    for source in SOURCES:
        assert topics.dead_letter_topic(topics.submission_topic(source)) in names, source


def _brokers(objects: tuple[Object, ...]) -> int:
    return sum(
        p["spec"]["replicas"]
        for p in of(objects, "KafkaNodePool").values()
        if "broker" in p["spec"]["roles"]
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_runs_the_projects_version_and_every_topic_fits_its_brokers(overlay: str) -> None:
    objects = render(overlay)
    (kafka,) = of(objects, "Kafka").values()
    assert kafka["spec"]["kafka"]["version"] == kafka_version(ROOT)
    config = kafka["spec"]["kafka"]["config"]
    brokers = _brokers(objects)
    assert config["default.replication.factor"] == config["offsets.topic.replication.factor"]
    assert config["default.replication.factor"] <= brokers
    for name, topic in of(objects, "KafkaTopic").items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert topic["spec"]["replicas"] <= brokers, name
        assert topic["spec"]["config"]["min.insync.replicas"] < topic["spec"]["replicas"] or (
            topic["spec"]["replicas"] == 1
        ), name


def test_production_is_replicated() -> None:
    objects = render("production")
    assert _brokers(objects) == 3
    (kafka,) = of(objects, "Kafka").values()
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    for name, topic in of(objects, "KafkaTopic").items():
        assert (topic["spec"]["replicas"], topic["spec"]["config"]["min.insync.replicas"]) == (
            3,
            2,
        ), name
    (cluster,) = of(objects, "Cluster").values()
    assert cluster["spec"]["instances"] == 3
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of(objects, "ScaledObject").values()}
    budgets = of(objects, "PodDisruptionBudget").values()
    for name, deployment in of(objects, "Deployment").items():
        # The autoscaler owns the count: a replicas field would fight it at every apply.
        assert "replicas" not in deployment["spec"], name
        assert scaled[name]["spec"]["minReplicaCount"] >= 2, name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert [b for b in budgets if _selects(b["spec"]["selector"], labels)], name


def test_dev_is_small() -> None:
    objects = render("dev")
    assert _brokers(objects) == 1
    assert next(iter(of(objects, "Cluster").values()))["spec"]["instances"] == 1
    assert {s["spec"]["maxReplicaCount"] for s in of(objects, "ScaledObject").values()} == {2}


def _selects(selector: Object, labels: dict[str, str]) -> bool:
    return selector["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_hardened_and_probed(overlay: str) -> None:
    objects = render(overlay)
    for name, template in pods(objects):
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        # A Service named `intake` would otherwise set INTAKE_PORT=tcp://... (a setting's name).
        assert spec["enableServiceLinks"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        tmp = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            assert {m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/tmp"} & tmp
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            if name.startswith("Deployment"):
                assert container["livenessProbe"]["httpGet"]["path"] == "/health", name
                assert container["readinessProbe"]["httpGet"]["path"] == "/ready", name
                assert container["startupProbe"]["httpGet"]["path"] == "/health", name


def _secret_references(objects: tuple[Object, ...]) -> Iterator[tuple[str, str]]:
    for name, template in pods(objects):
        for volume in template["spec"]["volumes"]:
            if "secret" in volume:
                yield name, volume["secret"]["secretName"]
        for container in template["spec"]["containers"]:
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    yield name, ref["name"]
    for name, auth in of(objects, "TriggerAuthentication").items():
        for ref in auth["spec"].get("secretTargetRef", []):
            yield f"TriggerAuthentication {name}", ref["name"]
    for name, cluster in of(objects, "Cluster").items():
        for role in cluster["spec"]["managed"]["roles"]:
            yield f"Cluster {name}", role["passwordSecret"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_inlined(overlay: str) -> None:
    objects = render(overlay)
    assert of(objects, "Secret") == {}
    for config in of(objects, "ConfigMap").values():
        assert not {"password", "secret", "token"} & {k.split("-")[-1] for k in config["data"]}
    known = OPERATOR_SECRETS | STRIMZI_SECRETS | set(of(objects, "KafkaUser"))
    referenced = dict(_secret_references(objects))
    assert {secret for _, secret in _secret_references(objects)} <= known, referenced
    for name, template in pods(objects):
        for container in template["spec"]["containers"]:
            for variable in container.get("env", []):
                key = variable["name"]
                if any(word in key for word in ("PASSWORD", "SECRET", "TOKEN")):
                    assert key.endswith("_FILE") or "valueFrom" in variable, (name, key)


def _env(container: Object) -> dict[str, Object]:
    return {v["name"]: v for v in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_gets_its_settings_its_principal_and_its_role(overlay: str) -> None:
    objects = render(overlay)
    deployments = of(objects, "Deployment")
    assert set(deployments) == set(SETTINGS) == set(SERVICE_ROLES)
    (cluster,) = of(objects, "Cluster").values()
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    (database,) = of(objects, "Database").values()
    schemas = {s["name"]: s["owner"] for s in database["spec"]["schemas"]}
    kafka_users = of(objects, "KafkaUser")
    for service, settings in SETTINGS.items():
        prefix = str(settings.model_config.get("env_prefix"))
        known = {f"{prefix}{field.upper()}" for field in settings.model_fields}
        for kind, name in (("Deployment", service), ("Job", f"{service}-migrate")):
            (container,) = of(objects, kind)[name]["spec"]["template"]["spec"]["containers"]
            env = _env(container)
            assert set(env) <= known, (name, set(env) - known)
            assert env[f"{prefix}DATABASE_URL"]["value"].startswith(f"postgresql://{service}@")
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            for variable in env.values():
                if variable["name"].endswith("_FILE"):
                    assert str(Path(variable["value"]).parent) in mounts, variable
        env = _env(deployments[service]["spec"]["template"]["spec"]["containers"][0])
        user = env[f"{prefix}KAFKA_USERNAME"]["value"]
        assert user == principals.user_name(service) and user in kafka_users
        assert roles[service]["login"] and not roles[service]["superuser"]
        assert roles[service]["passwordSecret"]["name"] == f"pg-{service}"
        assert schemas[service] == service


def test_keda_reads_the_lag_of_groups_the_service_may_use_as_the_service() -> None:
    objects = render("production")
    auths = of(objects, "TriggerAuthentication")
    deployments = of(objects, "Deployment")
    users = of(objects, "KafkaUser")
    for scaled in of(objects, "ScaledObject").values():
        service = scaled["spec"]["scaleTargetRef"]["name"]
        env = _env(deployments[service]["spec"]["template"]["spec"]["containers"][0])
        user = env[f"{service.upper()}_KAFKA_USERNAME"]["value"]
        group_acls = [
            rule["resource"]["name"]
            for rule in users[user]["spec"]["authorization"]["acls"]
            if rule["resource"]["type"] == "group"
        ]
        lag = [t for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
        assert lag, service
        # Never more pods than partitions: the extra ones would sit idle.
        assert scaled["spec"]["maxReplicaCount"] <= topics.PARTITIONS
        for trigger in lag:
            metadata = trigger["metadata"]
            assert metadata["bootstrapServersFromEnv"] in env
            assert metadata["consumerGroup"].startswith(tuple(group_acls)), metadata
            assert (metadata["sasl"], metadata["tls"]) == ("scram_sha512", "enable")
            auth = auths[trigger["authenticationRef"]["name"]]["spec"]
            assert {e["name"] for e in auth["env"] if e["parameter"] == "username"} == {
                f"{service.upper()}_KAFKA_USERNAME"
            }
            passwords = [s for s in auth["secretTargetRef"] if s["parameter"] == "password"]
            assert [s["name"] for s in passwords] == [user]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_select_their_deployments_pods_and_ports(overlay: str) -> None:
    objects = render(overlay)
    deployments = of(objects, "Deployment")
    for name, service in of(objects, "Service").items():
        template = deployments[name]["spec"]["template"]
        assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
        ports = {p["name"] for c in template["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    assert set(of(objects, "Service")) == set(deployments)


def test_the_install_guide_says_how_to_create_every_secret_the_operator_makes() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for secret in sorted(OPERATOR_SECRETS):
        assert f"`{secret}`" in guide, secret
    assert "generic pg-$role --type=kubernetes.io/basic-auth" in guide
    assert "create secret generic appeals-jwt" in guide
    assert "(docs/deploy.md)" in (ROOT / "deploy" / "k8s" / "base" / "postgres.yaml").read_text()
