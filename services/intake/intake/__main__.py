"""`python -m intake`: serve the intake service."""

from appeals_platform.runtime import serve
from intake.app import create_app
from intake.config import Settings

settings = Settings()
serve(create_app(settings), settings)
