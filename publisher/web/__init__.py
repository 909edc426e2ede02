"""The HTTP side: `create_app(runtime)` builds the FastAPI application."""

from .app import ROUTER_MODULES, create_app

__all__ = ["ROUTER_MODULES", "create_app"]
