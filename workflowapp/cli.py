"""The ``workflowapp`` command: ``serve``, ``call``, ``apps`` and ``config``.

``serve`` runs the production server (gunicorn with the configuration shipped in the package,
``workflowapp/gunicorn_conf.py``, on POSIX; waitress on Windows). ``call`` runs one application
in this process exactly as a WorkflowGen post would (the context is written, posted to the WSGI
app and read back) and prints the OUT parameters. ``apps`` describes the applications, as
text, JSON or the README's Markdown tables. ``config`` shows every setting's effective value
and where it came from, and runs the start-up check.

The module imports nothing of the application at load time: ``serve`` hands over to gunicorn,
which imports it in each worker, so importing it here first would only delay the start.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .apps.call import Services
    from .apps.registry import App
    from .context.model import Context, DataType, Format, Parameter, Value
    from .settings import Settings

#: The measured gunicorn configuration, shipped inside the package.
CONFIG = Path(__file__).resolve().parent / "gunicorn_conf.py"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status, never a traceback."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler = {"serve": serve, "call": call, "apps": apps, "config": config}[args.command]
    try:
        return handler(args)
    except BrokenPipeError:  # `workflowapp apps | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 0
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from .errors import AppError  # not before: serve hands over without importing it

        if not isinstance(exc, AppError):
            raise
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workflowapp", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the production server")
    serve_cmd.add_argument("--host", help="default 0.0.0.0 (or WORKFLOWAPP_BIND)")
    serve_cmd.add_argument("--port", type=int, help="default 8000 (or WORKFLOWAPP_BIND)")
    serve_cmd.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    serve_cmd.add_argument("--config", default=os.environ.get("WORKFLOWAPP_GUNICORN_CONF"),
                           help="a gunicorn configuration file of your own "
                                "(default: the one shipped in the package)")
    call_cmd = commands.add_parser(
        "call", help="run one application in this process (not through a running server)")
    call_cmd.add_argument("app")
    call_cmd.add_argument("values", nargs="*", metavar="NAME=VALUE")
    call_cmd.add_argument("--format", choices=("json", "xml", "recordset"), default="xml")
    call_cmd.add_argument("--out", action="append", default=[], help="extra OUT parameter")
    apps_cmd = commands.add_parser("apps", help="describe the applications")
    apps_cmd.add_argument("app", nargs="?")
    apps_cmd.add_argument("--json", action="store_true", help="the GET /apps document")
    apps_cmd.add_argument("--markdown", action="store_true", help="the README tables")
    config_cmd = commands.add_parser(
        "config", help="every setting's value and source; exit 1 if the host would not start")
    config_cmd.add_argument("--check", action="store_true",
                            help="only the start-up check's findings (before a reload)")
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run gunicorn (POSIX) or waitress (Windows) in this process.

    gunicorn takes its settings from the packaged ``gunicorn_conf.py`` (``WORKFLOWAPP_BIND``
    and friends, from the environment or ./.env) or from ``--config``; ``--host``/``--port``
    override its bind address. On Windows, waitress runs with the sizing measured for it: 250
    threads, 500 connections, 960 s channel timeout (above the 900 s WorkflowAppDeadline).
    """
    given = args.host is not None or args.port is not None
    bind = f"{args.host or '0.0.0.0'}:{args.port or 8000}"
    if os.name == "nt":
        return _serve_waitress(bind if given else None)
    options = ["--config", args.config or str(CONFIG)]
    if given:
        options += ["--bind", bind]
        os.environ["WORKFLOWAPP_BIND"] = bind  # what the start-up check judges, not .env's
    if args.workers:
        options += ["--workers", str(args.workers)]
    options.append("workflowapp:create_app()")
    return run_gunicorn(options)


def run_gunicorn(options: list[str]) -> int:
    """Become gunicorn's master, in this process, as ``python -m gunicorn <options>`` would.

    Not an ``exec``: a second interpreter start was 0.07 s of the cold start (bench/coldstart.py).
    ``sys.argv`` is gunicorn's own, so that its upgrade on USR2 re-executes gunicorn itself."""
    import importlib.util

    spec = importlib.util.find_spec("gunicorn.__main__")
    if spec is None or spec.origin is None:
        raise OSError("gunicorn is not installed: pip install 'workflowapp[server]'")
    sys.argv = [spec.origin, *options]
    from gunicorn.app.wsgiapp import run

    run(prog="gunicorn")  # exits when the master stops
    return 0  # pragma: no cover


def _serve_waitress(bind: str | None) -> int:  # pragma: no cover - Windows
    import waitress

    from . import checks, create_app
    from .settings import Settings

    settings = Settings.load()
    reasons = checks.refusals(settings)
    for reason in reasons:
        print(f"workflowapp: refusing to start: {reason}", file=sys.stderr)
    if reasons:
        return 1
    bind = bind or settings.in_force("WORKFLOWAPP_BIND")[0] or ""
    warning = checks.exposure_warning([bind], settings)
    if warning is not None:
        print(f"workflowapp: WARNING: {warning}", file=sys.stderr)
    threads = settings.get_int("WORKFLOWAPP_THREADS") if settings.get("WORKFLOWAPP_THREADS") \
        else 250
    waitress.serve(create_app(settings), listen=bind, threads=threads,
                   connection_limit=2 * threads, channel_timeout=960)
    return 0


def call(args: argparse.Namespace) -> int:
    """Post a context built from NAME=VALUE pairs to the application, in this process (with
    the settings this process reads, not a running server's); print the outputs."""
    from . import create_app
    from .apps import registry
    from .context import read_context, write_context
    from .context.model import Format
    from .errors import AppError

    fmt = {"json": Format.JSON, "xml": Format.DATASET, "recordset": Format.RECORDSET}[args.format]
    try:
        app = registry.get(args.app)
        body = write_context(build_context(app, args.values, args.out, fmt))
    except (AppError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = create_app()
    response = host.test_client().post(
        f"/{app.name}", data=body, headers=_credentials(host.services)
    )
    if response.status_code != 200:
        print(f"{response.status_code}: {response.get_data(as_text=True).strip()}", file=sys.stderr)
        return 1
    reply = read_context(response.get_data())
    for parameter in reply:
        if parameter.is_output and parameter.value is not None:
            print(f"{parameter.name} = {_shown(parameter)}")
    return 0


def _credentials(services: Services) -> dict[str, str]:
    """The HTTP Basic header the host requires, if it requires one (as WorkflowGen sends it)."""
    credentials = services.settings.credentials
    if credentials is None:
        return {}
    import base64

    token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def build_context(
    app: App, values: Sequence[str], extra_out: Sequence[str], fmt: Format
) -> Context:
    """A context with the given IN values and every declared OUT parameter of ``app``."""
    from .context.model import Context, DataType, Direction, Parameter

    context = Context(format=fmt)
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{item!r} is not NAME=VALUE")
        declared = app.param(name)
        data_type = declared.type if declared else DataType.TEXT
        direction = Direction.INOUT if declared and declared.direction is Direction.INOUT \
            else Direction.IN
        context.add(Parameter(name, data_type, direction, _typed(name, data_type, value)))
    for param in app.params:
        if param.direction is Direction.OUT and not param.pattern:
            context.add(Parameter(param.name, param.type, Direction.OUT))
    for name in extra_out:
        if name not in context.parameters:
            context.add(Parameter(name, DataType.TEXT, Direction.OUT))
    return context


def _typed(name: str, data_type: DataType, value: str) -> Value:
    """A command-line value as its data type: NUMERIC parsed, FILE a path, DATETIME ISO 8601."""
    from .context.model import DataType, FileRef
    from .context.values import parse_datetime, parse_numeric

    try:
        if data_type is DataType.NUMERIC:
            return parse_numeric(value)
        if data_type is DataType.DATETIME:
            return parse_datetime(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if data_type is DataType.FILE:
        return FileRef(path=value, name=Path(value).name)
    return value


def _shown(parameter: Parameter) -> str:
    from .apps.call import to_text

    return to_text(parameter.value)


def apps(args: argparse.Namespace) -> int:
    """Print one or all application descriptions."""
    import json

    from .apps import registry

    chosen = [registry.get(args.app)] if args.app else registry.all_apps()
    if args.json:
        document = chosen[0].manifest() if args.app else {"apps": [a.manifest() for a in chosen]}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif args.markdown:
        print("\n\n".join(markdown_table(app) for app in chosen))
    else:
        for app in chosen:
            print(f"{app.name}: {app.description}")
            for param in app.params:
                flag = " (required)" if param.required else ""
                print(f"  {param.name:30} {param.type.value:8} {param.direction.value:5}{flag}")
    return 0


def markdown_table(app: App) -> str:
    """The README table of one application, generated from its declaration."""
    from .apps.call import to_text

    lines = [
        f"### {app.name}",
        "",
        app.description,
        "",
        f"Log level setting: `{app.log_setting}`.",
        "",
        "| parameter | type | dir | required | default | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for param in app.params:
        name = f"`{param.name}`" + (" (ext)" if param.ext else "")
        default = "" if param.default is None else f"`{to_text(param.default)}`"
        required = "yes" if param.required else ""
        description = param.description.replace("|", "\\|")
        lines.append(
            f"| {name} | {param.type.value} | {param.direction.value} | {required} | {default} "
            f"| {description} |"
        )
    return "\n".join(lines)


def config(args: argparse.Namespace) -> int:
    """Print the value in force of every setting and server variable (secrets masked) and its
    source (not with ``--check``), then the start-up check's findings; exit 1 when the host
    would refuse to start (the systemd unit runs ``config --check`` before a reload)."""
    from . import checks
    from .apps import registry
    from .errors import ConfigurationError
    from .settings import Settings

    try:
        settings = Settings.load()
    except ConfigurationError as exc:  # a web.config that is not XML
        print(f"error: {exc.message}")
        return 1
    log_settings = tuple(app.log_setting for app in registry.all_apps())
    if not args.check:
        rows = config_rows(settings, log_settings)
        width = max(len(name) for name, _, _ in rows)
        print(f"{'setting':{width}}  {'source':11}  value")
        for name, source, value in rows:
            print(f"{name:{width}}  {source:11}  {value}")
    findings = checks.warnings(settings, log_settings)
    for warning in findings:
        print(f"warning: {warning}")
    reasons = checks.refusals(settings)
    for reason in reasons:
        print(f"error: {reason}")
    if reasons:
        return 1
    print("start-up check: " + ("passed with warnings" if findings else "passed"))
    return 0


def config_rows(settings: Settings, log_settings: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(name, source, value shown) of every setting, the applications' log levels and the
    limits set for them, the files and the server variables: the value the host uses, its
    default (or computed value) when unset; secrets masked."""
    from .settings import DEFAULT, ENVIRONMENT, FILES, SCHEMA, SERVER, declaration, declared

    limits = [name for name in sorted(settings.names()) if declared(name) is None
              and name.lower().endswith("maxrequestbytes") and declaration(name) is not None]
    rows = [_config_row(settings, name)
            for name in [s.name for s in SCHEMA] + list(log_settings) + limits]
    for setting in FILES:  # from the process environment only
        value = os.environ.get(setting.name)
        shown = value or setting.fallback or str(CONFIG)  # CONFIG: what serve gives gunicorn
        rows.append((setting.name, ENVIRONMENT if value else DEFAULT, shown))
    return rows + [_config_row(settings, setting.name) for setting in SERVER]


def _config_row(settings: Settings, name: str) -> tuple[str, str, str]:
    """One row of :func:`config_rows`: the value in force, masked when it must be."""
    from .settings import declaration

    value, source = settings.in_force(name)
    setting = declaration(name)
    shown = "(not set)" if value is None else setting.shown(value) if setting else value
    return name, source, shown


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
