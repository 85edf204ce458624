"""Copy what the deployment files derive from the repository's sources of truth, or check it.

    uv run python deploy/tools/sync_catalogue.py          # write (make deploy-files)
    uv run python deploy/tools/sync_catalogue.py --check  # exit 1 naming what drifted

- ``deploy/helm/opora/files/topics.json``: the topic catalogue, ``shared/contracts/topics.json``
  (itself exported from the pydantic catalogue by ``make contracts``); a chart can read only
  files inside it.
- ``deploy/helm/opora/files/prometheus-rules.yaml``: ``deploy/observability/prometheus-rules.yaml``.
- ``deploy/compose/topics.txt``: one line per topic for the compose file's topic-init container,
  ``<name> <partitions> <key=value,…>``, since the Kafka image has no JSON parser.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "shared" / "contracts" / "topics.json"
RULES = ROOT / "deploy" / "observability" / "prometheus-rules.yaml"
CHART_FILES = ROOT / "deploy" / "helm" / "opora" / "files"
COMPOSE_TOPICS = ROOT / "deploy" / "compose" / "topics.txt"


def compose_topics(catalogue: str) -> str:
    lines = [
        "# Generated from shared/contracts/topics.json by deploy/tools/sync_catalogue.py: do not",
        "# edit. <topic> <partitions> <config key=value,…>, read by create-topics.sh.",
    ]
    for topic in json.loads(catalogue)["topics"]:
        config = ",".join(f"{k}={v}" for k, v in sorted(topic["config"].items()))
        lines.append(f"{topic['name']} {topic['partitions']} {config}")
    return "\n".join(lines) + "\n"


def expected() -> dict[Path, str]:
    catalogue = CATALOGUE.read_text(encoding="utf-8")
    return {
        CHART_FILES / "topics.json": catalogue,
        CHART_FILES / "prometheus-rules.yaml": RULES.read_text(encoding="utf-8"),
        COMPOSE_TOPICS: compose_topics(catalogue),
    }


def main(argv: list[str]) -> int:
    files = expected()
    if "--check" in argv:
        stale = [
            path
            for path, text in files.items()
            if not path.is_file() or path.read_text(encoding="utf-8") != text
        ]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run `make deploy-files`")
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
