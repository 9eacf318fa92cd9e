"""The routing service fixtures, for the test of an agency added at run time."""

from tests.routing_service.conftest import routing, start_routing

__all__ = ["routing", "start_routing"]
