"""`python -m deadlines`: serve the deadlines service."""

from appeals_platform.runtime import serve
from deadlines.config import Settings

serve("deadlines.app:create_app", Settings())
