"""workflowapp: a Python host for WorkflowGen workflow applications (OPENAICHAT and its family).

``create_app()`` builds the WSGI application: settings read once, logs configured, one pooled
upstream client shared by every application of the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flask import Flask

    from .settings import Settings
    from .upstream import Client


def create_app(settings: Settings | None = None, client: Client | None = None) -> Flask:
    """The Flask WSGI application, configured from ``settings`` (default: read them)."""
    from . import logs
    from .apps import registry
    from .apps.call import Services
    from .events import Events
    from .settings import Settings
    from .upstream import Client
    from .web import create_app as create_web_app

    settings = settings or Settings.load()
    logs.configure(
        settings, app_levels={app.name: app.log_setting for app in registry.all_apps()}
    )
    events = Events()
    client = client or Client(
        pool_size=settings.get_int("WorkflowAppPoolSize"),
        allowed_hosts=settings.allowed_hosts,
        events=events,
    )
    if client.events is None:
        client.listen(events)
    return create_web_app(Services(settings, client, client.events or events))


__all__ = ["__version__", "create_app"]
