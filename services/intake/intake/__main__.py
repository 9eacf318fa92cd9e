"""`python -m intake`: serve the intake service."""

from appeals_platform.runtime import serve
from intake.config import Settings

serve("intake.app:create_app", Settings())
