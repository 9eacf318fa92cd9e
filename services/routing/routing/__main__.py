"""`python -m routing`: serve the routing service."""

from appeals_platform.runtime import serve
from routing.config import Settings

serve("routing.app:create_app", Settings())
