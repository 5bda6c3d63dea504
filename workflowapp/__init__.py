"""workflowapp: a Python host for WorkflowGen workflow applications (OPENAICHAT and its family).

``create_app()`` builds the WSGI application (:class:`~workflowapp.host.Host`): settings read
once and checked, logs configured, the access log and metrics subscribed to the events hub, one
pooled upstream client shared by every application of the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .host import Host
    from .settings import Settings
    from .upstream import Client


def create_app(settings: Settings | None = None, client: Client | None = None) -> Host:
    """The WSGI application, configured from ``settings`` (default: read them).

    Raises :class:`~workflowapp.errors.ConfigurationError` when the start-up check refuses the
    settings (a half-set Basic-auth pair, a value the host cannot use); its warnings (unknown
    names, log levels other than 0-3) are logged."""
    import logging

    from . import checks, logs
    from .accesslog import open_access_log
    from .apps import registry
    from .apps.call import Services
    from .errors import ConfigurationError
    from .events import Events
    from .host import Host
    from .settings import Settings
    from .upstream import Client

    settings = settings or Settings.load()
    reasons = checks.refusals(settings)  # first: configuring the logs reads settings too
    if reasons:
        raise ConfigurationError(" ".join(reasons))
    app_levels = {app.name: app.log_setting for app in registry.all_apps()}
    logs.configure(settings, app_levels=app_levels)
    for warning in checks.warnings(settings, tuple(app_levels.values())):
        logging.getLogger("workflowapp.config").warning("%s", warning)
    events = Events()
    client = client or Client(
        pool_size=settings.get_int("WorkflowAppPoolSize"),
        allowed_hosts=settings.allowed_hosts,
        events=events,
    )
    if client.events is None:
        client.listen(events)
    services = Services(settings, client, client.events or events)
    access_log = open_access_log(settings.get("WorkflowAppAccessLog"))
    if access_log is not None:
        services.events.subscribe(access_log)
    metrics = None
    if _enabled(settings.get("WorkflowAppMetrics")):
        from .metrics import Metrics

        metrics = Metrics()
        services.events.subscribe(metrics)
    return Host(services, metrics=metrics.render if metrics else None)


def _enabled(value: str | None) -> bool:
    """An on/off setting (on by default): off, n, no, false or 0 turn it off."""
    from .settings import OFF

    return (value or "on").strip().lower() not in OFF


__all__ = ["__version__", "create_app"]
