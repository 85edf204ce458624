"""A Kafka partition assignor that gives every partition to one member of the group.

The rollup folder must be the only writer of the rollup documents: FerretDB's conditional
updates are not atomic under concurrency, so two writers of one document could lose or double
a count. Partitioning alone cannot give that, because any partition's answers may land in the
same day or agent. With this assignor the consumer group itself elects the writer: the member
with the smallest id gets all partitions, every other replica stands by with none, and when the
writer leaves, the next rebalance hands everything to another one. Kafka's group protocol
(generations, revocation before reassignment) keeps two members from owning a partition at the
same time; the rollup documents' versions cover the moments around a rebalance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)


class SingleOwnerAssignor(AbstractPartitionAssignor):  # type: ignore[misc]  # aiokafka: untyped
    name = "opora-single-owner"
    version = 0

    @classmethod
    def assign(
        cls,
        cluster: ClusterMetadata,
        members: Mapping[str, ConsumerProtocolMemberMetadata],
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        owner = min(members) if members else None
        topics = sorted({t for m in members.values() for t in m.subscription})
        owned = [(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
        return {
            member: ConsumerProtocolMemberAssignment(
                cls.version, owned if member == owner else [], b""
            )
            for member in members
        }

    @classmethod
    def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(cls.version, list(topics), b"")

    @classmethod
    def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
        return None
