"""Java version parsing and the single message about missing tools."""

import pytest
from opora_localstack import prereqs

OPENJDK_17 = """openjdk version "17.0.15" 2025-04-15
OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)
OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)"""


@pytest.mark.parametrize(
    ("output", "major"),
    [
        (OPENJDK_17, 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "21.0.2" 2024-01-16 LTS', 21),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "11.0.22" 2024-01-16', 11),
        ('openjdk version "25-ea" 2025-09-16', 25),
        ("Picked up JAVA_TOOL_OPTIONS: -Xmx1g\n" + OPENJDK_17, 17),
        ("bash: java: command not found", None),
        ('java version "abc"', None),
    ],
)
def test_parse_java_major(output: str, major: int | None) -> None:
    assert prereqs.parse_java_major(output) == major


def test_check_names_every_missing_tool_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prereqs.shutil, "which", lambda _name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(prereqs.PrerequisiteError) as caught:
        prereqs.check(prereqs.Need(java=True, maven=True, go=True))

    message = str(caught.value)
    assert "Java 17+" in message
    assert "Maven (`mvn`)" in message
    assert "Go (`go`)" in message
    assert "`patch`" in message
    assert message.count("apt-get install openjdk-17-jre-headless maven golang patch") == 1


def test_check_only_what_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prereqs.shutil, "which", lambda _name: None)

    prereqs.check(prereqs.Need(java=False, maven=False, go=False))
