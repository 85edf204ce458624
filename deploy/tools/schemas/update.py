"""Refresh deploy/schemas: the JSON Schemas kubeconform validates the rendered chart against.

    uv run --no-project --with kubernetes-validate==1.37.0 python deploy/tools/schemas/update.py

Every schema comes from a package registry, pinned below, and is converted here, so the files
in deploy/schemas are reproducible; ``deploy/schemas/SOURCES.json`` records where each came
from and its digest (tests/deploy checks the files still match it). The tests read only the
files: they never need the network or this script.

- Kubernetes: the strict schemas of one Kubernetes version from the PyPI package
  ``kubernetes-validate`` (Apache-2.0, derived from Kubernetes' OpenAPI, Apache-2.0), made
  standalone (the definitions each kind uses copied into the file) because kubeconform loads
  one file per kind; laid out as kubeconform expects,
  ``kubernetes/v<version>-standalone-strict/<kind>-<group>-<version>.json``.
- CRDs: ``<group>/<kind>_<version>.json`` from the ``openAPIV3Schema`` of each
  CustomResourceDefinition, made strict (an object that lists its properties allows no
  others, unless the CRD says to keep unknown fields): KEDA's and the Prometheus Operator's
  CRD files from their Go modules (Apache-2.0), Strimzi's made by Strimzi's own CRD generator
  over its published API classes from Maven Central (Apache-2.0; Strimzi publishes no CRD
  files to a registry we reach). Needs Go, Maven, and Java 21 or newer for the generator.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "deploy" / "schemas"
STRIMZI_POM = Path(__file__).with_name("strimzi")

KUBERNETES_VERSION = "1.35.0"
KUBERNETES_VALIDATE = "1.37.0"
# The built-in kinds the chart renders: (kind, apiVersion).
KINDS = [
    ("ConfigMap", "v1"),
    ("Service", "v1"),
    ("ServiceAccount", "v1"),
    ("Deployment", "apps/v1"),
    ("PodDisruptionBudget", "policy/v1"),
    ("NetworkPolicy", "networking.k8s.io/v1"),
    ("Ingress", "networking.k8s.io/v1"),
    ("HorizontalPodAutoscaler", "autoscaling/v2"),
]

KEDA = ("github.com/kedacore/keda/v2", "v2.21.0")
PROMETHEUS_OPERATOR = ("github.com/prometheus-operator/prometheus-operator", "v0.85.0")
STRIMZI_VERSION = "1.2.0"  # also in strimzi/pom.xml
# CRD files inside each Go module, and the API versions wanted from them.
GO_CRDS = {
    KEDA: {
        "config/crd/bases/keda.sh_scaledobjects.yaml": ["v1alpha1"],
        "config/crd/bases/keda.sh_triggerauthentications.yaml": ["v1alpha1"],
    },
    PROMETHEUS_OPERATOR: {
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml": ["v1"],
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml": ["v1"],
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml": ["v1"],
    },
}
STRIMZI_CLASSES = {
    "io.strimzi.api.kafka.model.topic.KafkaTopic": ["v1"],
    "io.strimzi.api.kafka.model.user.KafkaUser": ["v1"],
}


def main() -> None:
    sources: dict[str, dict[str, str]] = {}
    shutil.rmtree(SCHEMAS / "kubernetes", ignore_errors=True)
    for group_dir in SCHEMAS.iterdir() if SCHEMAS.is_dir() else ():
        if group_dir.is_dir() and "." in group_dir.name:
            shutil.rmtree(group_dir)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources |= kubernetes_schemas()
        for (module, version), files in GO_CRDS.items():
            directory = go_module(module, version)
            for name, versions in files.items():
                origin = f"Go module {module}@{version}, {name}"
                sources |= crd_schemas(
                    yaml.safe_load((directory / name).read_text()), versions, origin
                )
        for crd, versions, origin in strimzi_crds(work):
            sources |= crd_schemas(crd, versions, origin)
    listing = {
        path: {"source": origin, "sha256": digest(SCHEMAS / path)}
        for path, origin in sorted((p, s["source"]) for p, s in sources.items())
    }
    (SCHEMAS / "SOURCES.json").write_text(json.dumps(listing, indent=2) + "\n")
    print(f"wrote {len(listing)} schemas to {SCHEMAS.relative_to(ROOT)}")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(relative: str, schema: dict[str, Any], origin: str) -> dict[str, dict[str, str]]:
    path = SCHEMAS / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    return {relative: {"source": origin}}


# --- Kubernetes --------------------------------------------------------------------------------


def kubernetes_schemas() -> dict[str, dict[str, str]]:
    try:
        installed = metadata.version("kubernetes-validate")
    except metadata.PackageNotFoundError:
        installed = "none"
    if installed != KUBERNETES_VALIDATE:
        raise SystemExit(
            f"run with kubernetes-validate=={KUBERNETES_VALIDATE} (found {installed}): "
            f"uv run --no-project --with kubernetes-validate=={KUBERNETES_VALIDATE} "
            "python deploy/tools/schemas/update.py"
        )
    base = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
    files = resources.files("kubernetes_validate") / base
    definitions = json.loads((files / "_definitions.json").read_text())["$defs"]
    origin = f"PyPI kubernetes-validate=={KUBERNETES_VALIDATE}, kubernetes_validate/{base}"
    written: dict[str, dict[str, str]] = {}
    for kind, api_version in KINDS:
        name = f"{kind.lower()}{_kind_suffix(api_version)}.json"
        schema = json.loads((files / name).read_text())
        relative = f"kubernetes/v{KUBERNETES_VERSION}-standalone-strict/{name}"
        written |= write(relative, standalone(schema, definitions), f"{origin}/{name}")
    return written


def _kind_suffix(api_version: str) -> str:
    """kubeconform's file-name suffix: ``apps/v1`` → ``-apps-v1``, ``networking.k8s.io/v1`` →
    ``-networking-v1``, ``v1`` → ``-v1``."""
    group, _, version = api_version.rpartition("/")
    return f"-{group.split('.')[0]}-{version}" if group else f"-{version}"


# Kind files refer to the shared definitions file, and definitions to one another.
REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the definitions it reaches copied into its own ``$defs`` and its
    references pointed at them (its ``$id`` dropped: it is no longer the published file)."""
    needed: dict[str, Any] = {}
    pending = [schema]
    while pending:
        for name in _refs(pending.pop()):
            if name not in needed:
                needed[name] = definitions[name]
                pending.append(definitions[name])
    out = _rewrite_refs(schema)
    out.pop("$id", None)
    out["$defs"] = {name: _rewrite_refs(d) for name, d in sorted(needed.items())}
    return out


def _definition(ref: Any) -> str | None:
    if isinstance(ref, str):
        for prefix in REF_PREFIXES:
            if ref.startswith(prefix):
                return ref.removeprefix(prefix)
    return None


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if (name := _definition(node.get("$ref"))) is not None:
            found.append(name)
        for value in node.values():
            found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                f"#/$defs/{_definition(value)}"
                if key == "$ref" and _definition(value) is not None
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


# --- CRDs --------------------------------------------------------------------------------------


def go_module(module: str, version: str) -> Path:
    result = subprocess.run(  # noqa: S603 - fixed argv
        ["go", "mod", "download", "-json", f"{module}@{version}"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return Path(json.loads(result.stdout)["Dir"])


def strimzi_crds(work: Path) -> list[tuple[dict[str, Any], list[str], str]]:
    subprocess.run(
        ["mvn", "-q", "dependency:copy-dependencies"],  # noqa: S607
        cwd=STRIMZI_POM,
        check=True,
    )
    outputs = {cls: work / f"{cls.rsplit('.', 1)[1].lower()}.yaml" for cls in STRIMZI_CLASSES}
    subprocess.run(  # noqa: S603 - fixed argv
        [
            _java_21(),
            "-cp",
            str(STRIMZI_POM / "target" / "libs" / "*"),
            "io.strimzi.crdgenerator.CrdGenerator",
            "--crd-api-version",
            "v1",
            "--api-versions",
            "v1",
            "--storage-version",
            "v1",
            "--yaml",
            *(f"{cls}={path}" for cls, path in outputs.items()),
        ],
        check=True,
    )
    shutil.rmtree(STRIMZI_POM / "target")
    return [
        (
            yaml.safe_load(path.read_text()),
            STRIMZI_CLASSES[cls],
            f"Maven Central io.strimzi:api:{STRIMZI_VERSION} through "
            f"io.strimzi:crd-generator:{STRIMZI_VERSION} ({cls})",
        )
        for cls, path in outputs.items()
    ]


def _java_21() -> str:
    """Strimzi's generator is built for Java 21: JAVA_HOME's java, or the newest JDK found."""
    candidates = [Path(os.environ["JAVA_HOME"]) / "bin/java"] if "JAVA_HOME" in os.environ else []
    candidates += sorted(Path("/usr/lib/jvm").glob("*/bin/java"), reverse=True)
    for java in candidates:
        result = subprocess.run(  # noqa: S603 - a JDK's own binary
            [str(java), "-XshowSettings:properties", "-version"],
            capture_output=True,
            text=True,
            check=False,
        )
        for line in result.stderr.splitlines():
            if "java.specification.version" in line and int(line.split("=")[1]) >= 21:
                return str(java)
    raise SystemExit("Strimzi's CRD generator needs Java 21 or newer (set JAVA_HOME)")


def crd_schemas(crd: dict[str, Any], versions: list[str], origin: str) -> dict[str, dict[str, str]]:
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"].lower()
    written: dict[str, dict[str, str]] = {}
    by_name = {v["name"]: v for v in crd["spec"]["versions"]}
    for version in versions:
        schema = strict(copy.deepcopy(by_name[version]["schema"]["openAPIV3Schema"]))
        written |= write(f"{group}/{kind}_{version}.json", schema, origin)
    return written


def strict(schema: Any) -> Any:
    """An OpenAPI v3 schema as JSON Schema: int-or-string as either, nullable as a type, and
    objects that list their properties closed to others (what kubeconform's ``-strict`` means
    for built-in kinds), except where the CRD keeps unknown fields."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {name: strict(s) for name, s in out["properties"].items()}
    for keyword in ("items", "additionalProperties", "not"):
        if isinstance(out.get(keyword), dict):
            out[keyword] = strict(out[keyword])
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in out:
            out[keyword] = [strict(s) for s in out[keyword]]
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


if __name__ == "__main__":
    main()
