"""The Helm chart (deploy/helm/opora), rendered with helm and checked without a cluster: every
resource valid against the Kubernetes and CRD schemas in deploy/schemas, and what operations
rely on present for every service and every topic."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    PRODUCTION_VALUES,
    ROOT,
    SCHEMAS,
    SERVICES,
    Rendered,
    RenderError,
    catalogue,
    env_of,
    helm_template,
    kubeconform,
)
from tests.deploy.conftest import EXTERNAL_KAFKA
from tests.deploy.observability import rules as observability_rules

PASSWORDS = re.compile(r"(PASSWORD|SECRET|API_KEYS|MONGODB_URI|TOKEN)$")


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def consumed_by(service: str) -> list[dict[str, Any]]:
    return [t for t in catalogue() if service in t["consumers"]]


# --- valid as Kubernetes takes it ----------------------------------------------------------------


def test_every_resource_is_valid_against_the_kept_schemas(render: Rendered) -> None:
    result = kubeconform(render.text)

    assert result.problems == []
    assert result.valid == len(render.resources)


def test_the_production_example_uses_every_optional_part(production_render: Rendered) -> None:
    kinds = {r["kind"] for r in production_render.resources}

    assert {
        "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy",
        "ConfigMap", "Ingress", "ScaledObject", "TriggerAuthentication", "PodMonitor",
        "PrometheusRule", "KafkaTopic", "KafkaUser",
    } <= kinds  # fmt: skip


def test_a_resource_with_a_misspelt_field_is_invalid(default_render: Rendered) -> None:
    """kubeconform really checks (strict: no unknown fields), also for the CRDs."""
    misspelt = default_render.text.replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:")
    scaled = default_render.text.replace("minReplicaCount:", "minReplicas:")

    assert kubeconform(misspelt).problems
    assert kubeconform(scaled).problems


# --- topics ------------------------------------------------------------------------------------


def test_every_catalogue_topic_has_a_kafka_topic_with_its_partitions_and_config(
    production_render: Rendered,
) -> None:
    declared = {t["spec"]["topicName"]: t for t in production_render.of_kind("KafkaTopic")}

    assert set(declared) == {t["name"] for t in catalogue()}  # dead-letter topics included
    for topic in catalogue():
        spec = declared[topic["name"]]["spec"]
        assert spec["partitions"] == topic["partitions"], topic["name"]
        assert spec["config"] == topic["config"] | {"min.insync.replicas": "2"}, topic["name"]
        assert spec["replicas"] == 3


def test_the_chart_reads_the_catalogue_the_contracts_export() -> None:
    assert (CHART / "files" / "topics.json").read_bytes() == (
        ROOT / "shared" / "contracts" / "topics.json"
    ).read_bytes(), "the chart's copy of the topic catalogue drifted: run `make deploy-files`"


def test_no_kafka_topics_when_kafka_is_external(default_render: Rendered) -> None:
    assert default_render.of_kind("KafkaTopic") == []


# --- every service ------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_probed_on_its_health_endpoints(render: Rendered, service: str) -> None:
    app = container(render.deployment(service))

    assert app["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert app["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert app["startupProbe"]["httpGet"]["path"] == "/health/live"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_requests_and_limits(render: Rendered, service: str) -> None:
    resources = container(render.deployment(service))["resources"]

    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_runs_unprivileged_on_a_read_only_root(
    render: Rendered, service: str
) -> None:
    pod = render.deployment(service)["spec"]["template"]["spec"]
    security = container(render.deployment(service))["securityContext"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container(render.deployment(service))[
        "volumeMounts"
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_spreads_over_zones_and_nodes(render: Rendered, service: str) -> None:
    pod = render.deployment(service)["spec"]["template"]["spec"]
    spread = pod["topologySpreadConstraints"]

    assert {c["topologyKey"] for c in spread} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    for constraint in spread:
        assert constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == service


@pytest.mark.parametrize("service", SERVICES)
def test_termination_outlasts_the_http_and_broker_drains(render: Rendered, service: str) -> None:
    deployment = render.deployment(service)
    pod = deployment["spec"]["template"]["spec"]
    graceful = float(env_of(deployment)[f"OPORA_{service.upper()}_GRACEFUL_TIMEOUT_S"]["value"])
    pre_stop = container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]

    assert pod["terminationGracePeriodSeconds"] > pre_stop + 2 * graceful


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_disruption_budget(render: Rendered, service: str) -> None:
    budget = render.named("PodDisruptionBudget", f"opora-{service}")

    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == service


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_network_policy_on_both_directions(
    render: Rendered, service: str
) -> None:
    policy = render.named("NetworkPolicy", f"opora-{service}")["spec"]
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}

    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == service
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == ["http"]
    assert all(rule.get("from") for rule in policy["ingress"])  # never open to everyone
    assert {53, 27017} <= egress_ports
    assert egress_ports & {9092, 9093}


def test_only_notifications_may_reach_smtp_and_webhooks(render: Rendered) -> None:
    for service in SERVICES:
        policy = render.named("NetworkPolicy", f"opora-{service}")["spec"]
        ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
        assert (587 in ports and 443 in ports) == (service == "notifications"), service


def test_the_production_policies_name_where_kafka_and_mongodb_are(
    production_render: Rendered,
) -> None:
    policy = production_render.named("NetworkPolicy", "opora-sla")["spec"]
    kafka = next(r for r in policy["egress"] if r["ports"] == [{"port": 9093, "protocol": "TCP"}])

    assert kafka["to"][0]["podSelector"]["matchLabels"]["strimzi.io/cluster"] == "opora"


@pytest.mark.parametrize("service", SERVICES)
def test_consumers_scale_on_lag_never_beyond_their_partitions(
    render: Rendered, service: str
) -> None:
    scaled = render.named("ScaledObject", f"opora-{service}")["spec"]
    fewest = min(t["partitions"] for t in consumed_by(service))

    assert scaled["scaleTargetRef"]["name"] == f"opora-{service}"
    assert scaled["maxReplicaCount"] <= fewest
    assert [t["metadata"]["consumerGroup"] for t in scaled["triggers"]] == [service]
    assert all(t["type"] == "kafka" for t in scaled["triggers"])
    assert "replicas" not in render.deployment(service)["spec"]  # the autoscaler owns it


def test_a_replica_ceiling_above_the_partitions_is_capped() -> None:
    rendered = helm_template(sets=EXTERNAL_KAFKA | {"autoscaling.maxReplicas": "50"})

    for service in SERVICES:
        cap = min(t["partitions"] for t in consumed_by(service))
        assert rendered.named("ScaledObject", f"opora-{service}")["spec"]["maxReplicaCount"] == cap


def test_without_keda_or_the_prometheus_operator_a_cpu_autoscaler_and_no_monitors() -> None:
    rendered = helm_template(sets=EXTERNAL_KAFKA, api_versions=())
    kinds = {r["kind"] for r in rendered.resources}

    assert not kinds & {"ScaledObject", "PodMonitor", "ServiceMonitor", "PrometheusRule"}
    for service in SERVICES:
        hpa = rendered.named("HorizontalPodAutoscaler", f"opora-{service}")["spec"]
        assert hpa["scaleTargetRef"]["name"] == f"opora-{service}"
        assert hpa["maxReplicas"] <= min(t["partitions"] for t in consumed_by(service))
    assert kubeconform(rendered.text).problems == []


def test_without_autoscaling_the_deployment_keeps_its_replicas() -> None:
    rendered = helm_template(sets=EXTERNAL_KAFKA | {"autoscaling.enabled": "false"})

    assert not {"ScaledObject", "HorizontalPodAutoscaler"} & {r["kind"] for r in rendered.resources}
    assert rendered.deployment("routing")["spec"]["replicas"] == 2


# --- values the chart refuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"components.intake.replicas": "-1"}, "/components/intake/replicas"),
        ({"components.sla.replicaz": "2"}, "'replicaz' not allowed"),
        ({"kafka.securityProtocol": "SASL_SCRAM"}, "/kafka/securityProtocol"),
        ({"components.routing.port": "80"}, "/components/routing/port"),
        ({"autoscaling.keda": "maybe"}, "/autoscaling/keda"),
        ({"components.feedback.secretEnv.TOKEN_SECRET": "in-the-values"}, "TOKEN_SECRET"),
        ({"podDefaults.terminationGracePeriodSeconds": "20"}, "must exceed"),
        ({"autoscaling.minReplicas": "7"}, "exceeds the 6 replicas"),
        ({"kafka.securityProtocol": "SASL_SSL"}, "needs a Kafka user for"),
    ],
    ids=[
        "negative-replicas", "unknown-key", "unknown-protocol", "privileged-port", "bad-keda",
        "secret-as-a-value", "grace-shorter-than-drains", "more-minimum-than-partitions",
        "sasl-without-users",
    ],
)  # fmt: skip
def test_bad_values_are_refused_naming_what_is_wrong(
    values: dict[str, str], complaint: str
) -> None:
    with pytest.raises(RenderError) as refused:
        helm_template(sets=EXTERNAL_KAFKA | values)

    assert complaint in str(refused.value)


def test_kafka_must_be_named_unless_strimzi_runs_it() -> None:
    with pytest.raises(RenderError, match=r"kafka\.bootstrapServers is required"):
        helm_template()


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_is_rendered_and_no_password_is_a_plain_value(render: Rendered) -> None:
    assert render.of_kind("Secret") == []
    for deployment in render.of_kind("Deployment"):
        for name, variable in env_of(deployment).items():
            if PASSWORDS.search(name):
                assert "value" not in variable, name
                assert variable["valueFrom"]["secretKeyRef"]["name"], name


@pytest.mark.parametrize("service", SERVICES)
def test_the_mongodb_uri_comes_from_a_secret(render: Rendered, service: str) -> None:
    uri = env_of(render.deployment(service))[f"OPORA_{service.upper()}_MONGODB_URI"]

    assert set(uri["valueFrom"]["secretKeyRef"]) == {"name", "key"}


def test_each_service_can_have_a_mongodb_user_of_its_own(production_render: Rendered) -> None:
    uri = env_of(production_render.deployment("sla"))["OPORA_SLA_MONGODB_URI"]

    assert uri["valueFrom"]["secretKeyRef"] == {"name": "opora-mongodb", "key": "sla-uri"}


@pytest.mark.parametrize("service", SERVICES)
def test_scram_over_tls_reaches_every_service(production_render: Rendered, service: str) -> None:
    deployment = production_render.deployment(service)
    env = env_of(deployment)
    prefix = f"OPORA_{service.upper()}_KAFKA_"
    mounts = {m["mountPath"] for m in container(deployment)["volumeMounts"]}

    assert env[prefix + "SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env[prefix + "SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env[prefix + "SASL_USERNAME"]["value"] == f"opora-{service}"
    # Strimzi writes the KafkaUser's password into a Secret of the same name.
    assert env[prefix + "SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"opora-{service}",
        "key": "password",
    }
    assert env[prefix + "SSL_CAFILE"]["value"] == "/etc/opora/kafka-ca/ca.crt"
    assert "/etc/opora/kafka-ca" in mounts
    assert env[prefix + "BOOTSTRAP_SERVERS"]["value"].endswith(":9093")


def test_mutual_tls_without_sasl_mounts_the_client_certificate() -> None:
    rendered = helm_template(
        sets=EXTERNAL_KAFKA
        | {
            "kafka.securityProtocol": "SSL",
            "kafka.tls.caSecret.name": "kafka-ca",
            "kafka.tls.clientCertSecret.name": "opora-kafka-client",
        }
    )
    env = env_of(rendered.deployment("routing"))
    auth = rendered.named("TriggerAuthentication", "opora-routing-kafka")["spec"]

    assert env["OPORA_ROUTING_KAFKA_SECURITY_PROTOCOL"]["value"] == "SSL"
    assert env["OPORA_ROUTING_KAFKA_SSL_CERTFILE"]["value"] == "/etc/opora/kafka-client/user.crt"
    assert env["OPORA_ROUTING_KAFKA_SSL_KEYFILE"]["value"] == "/etc/opora/kafka-client/user.key"
    assert not [name for name in env if "SASL" in name]
    assert {r["parameter"] for r in auth["secretTargetRef"]} == {"ca", "cert", "key"}
    assert kubeconform(rendered.text).problems == []


@pytest.mark.parametrize("service", SERVICES)
def test_keda_reads_the_lag_with_the_services_own_credentials(
    production_render: Rendered, service: str
) -> None:
    trigger = production_render.named("ScaledObject", f"opora-{service}")["spec"]["triggers"][0]
    auth = production_render.named("TriggerAuthentication", trigger["authenticationRef"]["name"])
    secrets = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}

    assert trigger["metadata"]["sasl"] == "scram_sha512"
    assert trigger["metadata"]["tls"] == "enable"
    assert secrets["password"]["name"] == f"opora-{service}"
    assert secrets["ca"] == {"parameter": "ca", "name": "opora-cluster-ca-cert", "key": "ca.crt"}
    assert auth["spec"]["env"][0]["name"] == f"OPORA_{service.upper()}_KAFKA_SASL_USERNAME"


@pytest.mark.parametrize("service", SERVICES)
def test_each_kafka_user_may_read_what_it_consumes_and_write_what_it_publishes(
    production_render: Rendered, service: str
) -> None:
    acls = production_render.named("KafkaUser", f"opora-{service}")["spec"]["authorization"]["acls"]
    readable = {a["resource"]["name"] for a in acls if "Read" in a["operations"]}
    writable = {a["resource"]["name"] for a in acls if "Write" in a["operations"]}

    published = {t["name"] for t in catalogue() if service in t["producers"]}
    extra = {a["resource"]["name"] for a in default_values()["components"][service]["kafkaAcls"]}

    assert {t["name"] for t in consumed_by(service)} <= readable
    assert published <= writable
    assert writable - published <= extra  # what the values add, and nothing else
    assert f"{consumed_by(service)[0]['name'].rsplit('.', 1)[0]}.dlq.v1" in writable
    assert service in readable  # its consumer group


def test_a_kafka_user_may_not_write_what_others_publish(production_render: Rendered) -> None:
    acls = production_render.named("KafkaUser", "opora-routing")["spec"]["authorization"]["acls"]
    writable = {a["resource"]["name"] for a in acls if "Write" in a["operations"]}

    assert "tickets.events.v1" not in writable  # intake's


def default_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return values


# --- the services' settings ---------------------------------------------------------------------


def settings_fields(service: str) -> set[str]:
    module = __import__(f"opora_{service}.config", fromlist=["Settings"])
    return {name.upper() for name in module.Settings.model_fields}


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_the_chart_sets_is_one_the_service_reads(
    render: Rendered, service: str
) -> None:
    prefix = f"OPORA_{service.upper()}_"
    names = [n for n in env_of(render.deployment(service)) if n.startswith("OPORA_")]

    assert names, "no settings at all"
    assert {n.removeprefix(prefix) for n in names} <= settings_fields(service)
    assert all(n.startswith(prefix) for n in names)
    assert env_of(render.deployment(service))[prefix + "HTTP_HOST"]["value"] == "0.0.0.0"


def test_settings_given_as_numbers_reach_the_service_as_written(tmp_path: Path) -> None:
    values = tmp_path / "numbers.yaml"
    values.write_text(
        "components:\n  intake:\n    env:\n      MAX_BODY_BYTES: 1048576\n"
        "      REOPEN_WINDOW_DAYS: 2.5\n      AUTH_REQUIRED: true\n"
        "autoscaling:\n  lagThreshold: 10000000\n"
    )
    rendered = helm_template(values, sets=EXTERNAL_KAFKA)
    env = env_of(rendered.deployment("intake"))
    trigger = rendered.named("ScaledObject", "opora-intake")["spec"]["triggers"][0]

    assert env["OPORA_INTAKE_MAX_BODY_BYTES"]["value"] == "1048576"
    assert env["OPORA_INTAKE_REOPEN_WINDOW_DAYS"]["value"] == "2.5"
    assert env["OPORA_INTAKE_AUTH_REQUIRED"]["value"] == "true"
    assert trigger["metadata"]["lagThreshold"] == "10000000"  # not 1e+07


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_listens_on_the_port_the_probes_and_service_use(
    render: Rendered, service: str
) -> None:
    port = container(render.deployment(service))["ports"][0]
    env = env_of(render.deployment(service))

    assert port["name"] == "http"
    assert env[f"OPORA_{service.upper()}_HTTP_PORT"]["value"] == str(port["containerPort"])
    assert render.named("Service", f"opora-{service}")["spec"]["ports"][0]["targetPort"] == "http"


# --- rules as ConfigMaps ------------------------------------------------------------------------


def mounted_rules(rendered: Rendered, service: str, root: Path) -> dict[str, str]:
    """Lay the service's rules volume out under ``root`` as the kubelet would, and return the
    settings pointing into it (paths moved under ``root``)."""
    deployment = rendered.deployment(service)
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "rules"
    )
    mount = next(m for m in container(deployment)["volumeMounts"] if m["name"] == "rules")
    data = rendered.named("ConfigMap", volume["configMap"]["name"])["data"]
    for item in volume["configMap"]["items"]:
        target = root / mount["mountPath"].lstrip("/") / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[item["key"]], encoding="utf-8")
    env = env_of(deployment)
    prefix = f"OPORA_{service.upper()}_"
    return {
        name.removeprefix(prefix): str(root / env[name]["value"].lstrip("/"))
        for name in env
        if name.startswith(prefix) and env[name].get("value", "").startswith(mount["mountPath"])
    }


def test_each_service_loads_its_rules_from_the_mounted_configmap(
    production_render: Rendered, tmp_path: Path
) -> None:
    from opora_feedback.domain.rules import load_rules as feedback_rules
    from opora_intake.domain.automations import load_automations
    from opora_intake.domain.classification import load_rules as intake_rules
    from opora_notifications.adapters.templates import JinjaRenderer
    from opora_notifications.domain.directory import load_directory
    from opora_notifications.domain.rules import load_rules as notification_rules
    from opora_routing.domain.rules import load_rules as routing_rules
    from opora_sla.domain.calendars.files import load_calendars
    from opora_sla.domain.policies import load_policies

    intake = mounted_rules(production_render, "intake", tmp_path)
    routing = mounted_rules(production_render, "routing", tmp_path)
    sla = mounted_rules(production_render, "sla", tmp_path)
    notifications = mounted_rules(production_render, "notifications", tmp_path)
    feedback = mounted_rules(production_render, "feedback", tmp_path)

    assert set(intake) == {"RULES_FILE", "AUTOMATIONS_FILE"}
    intake_rules(Path(intake["RULES_FILE"]))
    load_automations(Path(intake["AUTOMATIONS_FILE"]))
    routing_rules(Path(routing["RULES_FILE"]))
    load_policies(Path(sla["POLICIES_FILE"]))
    # The holiday dates come from the .ics file beside the calendars, as in the package.
    assert load_calendars(Path(sla["CALENDARS_FILE"])).fingerprint == (
        load_calendars(None).fingerprint
    )
    rules = notification_rules(Path(notifications["RULES_FILE"]))
    load_directory(Path(notifications["STAFF_FILE"]))
    JinjaRenderer.load(rules, Path(notifications["TEMPLATES_DIR"]))  # nested folders
    feedback_rules(Path(feedback["RULES_FILE"]))


def test_rules_read_only_at_start_roll_the_pods_when_they_change(
    production_render: Rendered, rules_values: Path
) -> None:
    changed = helm_template(
        PRODUCTION_VALUES,
        rules_values,
        set_files={"components.feedback.rules.files.surveys\\.yaml": rules_values},
    )

    def checksum(rendered: Rendered, service: str) -> str | None:
        metadata = rendered.deployment(service)["spec"]["template"]["metadata"]
        return metadata.get("annotations", {}).get("checksum/rules")

    assert checksum(changed, "feedback") != checksum(production_render, "feedback")
    assert checksum(changed, "intake") == checksum(production_render, "intake")
    assert checksum(production_render, "routing") is None  # routing reloads its rules itself


def test_without_rules_files_the_services_use_their_packaged_ones(default_render: Rendered) -> None:
    assert default_render.of_kind("ConfigMap") == []
    assert "OPORA_SLA_POLICIES_FILE" not in env_of(default_render.deployment("sla"))


# --- monitoring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_scraped_as_the_job_the_alerts_name(render: Rendered, service: str) -> None:
    monitor = render.named("PodMonitor", f"opora-{service}")["spec"]
    endpoint = monitor["podMetricsEndpoints"][0]

    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert {"action": "replace", "targetLabel": "job", "replacement": f"opora-{service}"} in (
        endpoint["relabelings"]
    )


def test_a_service_monitor_instead_scrapes_through_the_services() -> None:
    rendered = helm_template(sets=EXTERNAL_KAFKA | {"monitoring.kind": "ServiceMonitor"})

    assert len(rendered.of_kind("ServiceMonitor")) == len(SERVICES)
    assert rendered.of_kind("PodMonitor") == []
    assert kubeconform(rendered.text).problems == []


def test_the_alerting_rules_are_the_observability_files(render: Rendered) -> None:
    (rule,) = render.of_kind("PrometheusRule")
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]

    assert [a["alert"] for a in alerts] == [a["alert"] for a in observability_rules()]
    assert [a["expr"] for a in alerts] == [a["expr"] for a in observability_rules()]
    assert (CHART / "files" / "prometheus-rules.yaml").read_bytes() == (
        ROOT / "deploy" / "observability" / "prometheus-rules.yaml"
    ).read_bytes(), "the chart's copy of the alerting rules drifted: run `make deploy-files`"


def test_runbook_links_get_the_configured_base(production_render: Rendered) -> None:
    (rule,) = production_render.of_kind("PrometheusRule")
    links = [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]]

    assert all(link.startswith("https://wiki.example.com/opora/runbooks#") for link in links)
    assert "{{ $labels.job }}" in yaml.safe_dump(rule)  # Prometheus templates left alone


# --- the files the tests rely on ---------------------------------------------------------------


def test_the_schemas_are_the_ones_their_sources_list() -> None:
    sources = json.loads((SCHEMAS / "SOURCES.json").read_text(encoding="utf-8"))
    kept = {
        str(p.relative_to(SCHEMAS)) for p in SCHEMAS.rglob("*.json") if p.name != "SOURCES.json"
    }

    assert kept == set(sources)
    for path, source in sources.items():
        digest = hashlib.sha256((SCHEMAS / path).read_bytes()).hexdigest()
        assert digest == source["sha256"], f"{path} changed by hand: deploy/tools/schemas"


def test_the_generated_deployment_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "tools" / "sync_catalogue.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout
