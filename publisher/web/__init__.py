"""The HTTP side: `create_app(runtime)` builds the FastAPI application. Handlers call the
runtime's services (editorial, delivery, compliance) and never open a database session."""

from publisher.web.app import ROUTER_MODULES, create_app

__all__ = ["ROUTER_MODULES", "create_app"]
