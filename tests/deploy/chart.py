"""Rendering the Helm chart and validating what it renders, offline: helm and kubeconform built
by ``make tools`` (deploy/tools), and only the schemas kept in deploy/schemas."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "opora"
PRODUCTION_VALUES = ROOT / "deploy" / "helm" / "values-production.yaml"
SCHEMAS = ROOT / "deploy" / "schemas"
CATALOGUE = ROOT / "shared" / "contracts" / "topics.json"
KUBERNETES_VERSION = "1.35.0"
SERVICES = ("intake", "routing", "sla", "notifications", "feedback")
# The optional APIs a cluster may serve, as `helm install` would find them.
KEDA = "keda.sh/v1alpha1"
PROMETHEUS_OPERATOR = "monitoring.coreos.com/v1"


def tool(name: str) -> str:
    """The binary ``make tools`` built, or one on PATH; a clear failure when neither exists."""
    built = ROOT / ".local" / "bin" / name
    if built.is_file():
        return str(built)
    found = shutil.which(name)
    if found is None:
        raise AssertionError(
            f"{name} is missing: run `make tools` (builds helm and kubeconform from the Go "
            "module proxy into .local/bin)"
        )
    return found


@dataclass(frozen=True)
class Rendered:
    """What ``helm template`` printed, as YAML text and as resources."""

    text: str
    resources: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        found = [r for r in self.of_kind(kind) if r["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def deployment(self, service: str) -> dict[str, Any]:
        return self.named("Deployment", f"opora-{service}")


class RenderError(Exception):
    """helm refused the values or a template failed; the message is helm's."""


def helm_template(
    *values_files: Path,
    sets: dict[str, str] | None = None,
    set_files: dict[str, Path] | None = None,
    api_versions: tuple[str, ...] = (KEDA, PROMETHEUS_OPERATOR),
) -> Rendered:
    argv = [
        tool("helm"),
        "template",
        "opora",
        str(CHART),
        "--namespace",
        "opora",
        "--kube-version",
        KUBERNETES_VERSION,
    ]
    for api in api_versions:
        argv += ["--api-versions", api]
    for path in values_files:
        argv += ["--values", str(path)]
    for key, value in (sets or {}).items():
        argv += ["--set", f"{key}={value}"]
    for key, path in (set_files or {}).items():
        argv += ["--set-file", f"{key}={path}"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    resources = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(result.stdout, resources)


@dataclass(frozen=True)
class Validation:
    valid: int
    problems: list[str]


def kubeconform(manifests: str) -> Validation:
    """Validate with kubeconform ``-strict`` against deploy/schemas only (no remote location):
    the built-in kinds at one Kubernetes version, the CRDs by group, kind and version."""
    argv = [
        tool("kubeconform"),
        "-strict",
        "-summary",
        "-output",
        "json",
        "-kubernetes-version",
        KUBERNETES_VERSION,
        "-schema-location",
        str(SCHEMAS / "kubernetes")
        + "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
        + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
        "-schema-location",
        str(SCHEMAS) + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
        "-",
    ]
    result = subprocess.run(
        argv, input=manifests, capture_output=True, text=True, check=False, timeout=60
    )
    report = json.loads(result.stdout)
    problems = [
        f"{r['kind']} {r['name']}: {r['status']} {r.get('msg', '')}"
        for r in report.get("resources", [])
        if r["status"] != "statusValid"
    ]
    return Validation(report["summary"]["valid"], problems)


def catalogue() -> list[dict[str, Any]]:
    topics: list[dict[str, Any]] = json.loads(CATALOGUE.read_text(encoding="utf-8"))["topics"]
    return topics


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The service container's environment: name → the EnvVar."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container["env"]}


def packaged_rules() -> dict[str, dict[str, str]]:
    """Every service's packaged rules, calendars and templates, as the chart's
    ``components.<service>.rules.files`` take them (path under the mount → content)."""

    def files_under(folder: Path, prefix: str = "") -> dict[str, str]:
        return {
            f"{prefix}{p.relative_to(folder)}": p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in {".yaml", ".ics", ".txt", ".html"}
        }

    files = {
        service: files_under(ROOT / "services" / service / "src" / f"opora_{service}" / "rules")
        for service in SERVICES
    }
    package = ROOT / "services" / "sla" / "src" / "opora_sla"
    files["sla"] |= files_under(package / "calendars", "calendars/")
    package = ROOT / "services" / "notifications" / "src" / "opora_notifications"
    files["notifications"] |= files_under(package / "templates", "templates/")
    return files
