"""`python -m deadlines`: serve the deadlines service."""

from appeals_platform.runtime import serve
from deadlines.app import create_app
from deadlines.config import Settings

settings = Settings()
serve(create_app(settings), settings)
