"""`python -m routing`: serve the routing service."""

from appeals_platform.runtime import serve
from routing.app import create_app
from routing.config import Settings

settings = Settings()
serve(create_app(settings), settings)
