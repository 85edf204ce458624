"""Settings every service shares."""

from opora_shared.settings import ServiceSettings


class RoutingLike(ServiceSettings):
    service_name: str = "routing"


def test_each_service_gets_a_database_of_its_own_by_default() -> None:
    assert RoutingLike().mongodb_database == "opora_routing"


def test_a_database_set_explicitly_is_kept() -> None:
    assert RoutingLike(mongodb_database="shared").mongodb_database == "shared"
