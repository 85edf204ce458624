"""The staff directory: who leads and supervises each team, for alerts by escalation level.

Agent profiles from the workspace (``AgentProfileChangedV1``) give agents' e-mails, languages
and teams, but say nothing about who leads a team; routing's teams (``team-leads``,
``supervisors``) are pools to route to, not the lead of a given team. So the lead and the
supervisor of each team are data: a YAML file validated at start-up, like the rules.

A ticket's team is, in order: the team of its assignment, the first team of the assigned
agent's profile, the team the directory maps its queue to, the directory's default team.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self

from opora_shared.datafile import parse_yaml, read_source
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from opora_notifications.domain.rules import LanguageCode, TimeZoneName

DEFAULT_DIRECTORY = ("opora_notifications", "rules/staff.yaml")

TeamId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")]


class DirectoryError(ValueError):
    """The staff directory cannot be read or does not validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr
    language: LanguageCode | None = None


class Team(_Strict):
    lead: Person
    supervisor: Person | None = Field(default=None, description="The directory's default if unset")
    language: LanguageCode | None = None
    time_zone: TimeZoneName | None = None


class StaffDirectory(_Strict):
    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    language: LanguageCode = "en"
    time_zone: TimeZoneName = "UTC"
    supervisor: Person = Field(description="Supervises every team that names none of its own")
    default_team: TeamId
    teams: dict[TeamId, Team] = Field(min_length=1)
    queues: dict[TeamId, TeamId] = Field(
        default_factory=dict, description="routing's queue → the team that owns it"
    )
    agents: dict[TeamId, Person] = Field(
        default_factory=dict,
        description="Agents' addresses when their workspace profile carries none",
    )

    @model_validator(mode="after")
    def _known_teams(self) -> Self:
        if self.default_team not in self.teams:
            raise ValueError(f"default_team {self.default_team!r} is not among the teams")
        unknown = sorted({t for t in self.queues.values() if t not in self.teams})
        if unknown:
            raise ValueError(f"queues name unknown teams: {unknown}")
        return self

    def team(self, team_id: str | None) -> tuple[str, Team]:
        if team_id is not None and team_id in self.teams:
            return team_id, self.teams[team_id]
        return self.default_team, self.teams[self.default_team]

    def team_of_queue(self, queue: str | None) -> str | None:
        return self.queues.get(queue) if queue else None


@dataclass(frozen=True)
class StaffMember:
    """A resolved recipient of a staff alert."""

    email: str
    name: str
    language: str
    time_zone: str


def parse_directory(raw: str, *, source: str = "<directory>") -> StaffDirectory:
    return parse_yaml(
        raw, StaffDirectory, source=source, what="staff directory", error=DirectoryError
    )


def load_directory(path: Path | None = None) -> StaffDirectory:
    raw, source = read_source(path, DEFAULT_DIRECTORY, what="staff directory", error=DirectoryError)
    return parse_directory(raw, source=source)
