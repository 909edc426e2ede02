"""The HTTP side: `create_app(runtime)` builds the FastAPI application."""

from publisher.web.app import ROUTER_MODULES, create_app

__all__ = ["ROUTER_MODULES", "create_app"]
