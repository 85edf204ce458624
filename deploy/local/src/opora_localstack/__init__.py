"""Opora's local stack without Docker: Kafka, FerretDB and the five services as processes."""

from opora_localstack.prereqs import PrerequisiteError
from opora_localstack.procs import ProcessFailedError
from opora_localstack.stack import LocalInfra, SetupReport, local_infra, setup

__all__ = [
    "LocalInfra",
    "PrerequisiteError",
    "ProcessFailedError",
    "SetupReport",
    "local_infra",
    "setup",
]
