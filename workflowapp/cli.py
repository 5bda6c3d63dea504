"""The ``workflowapp`` command: ``serve``, ``call`` and ``apps``.

``serve`` runs the production server (gunicorn with ``config/gunicorn.conf.py`` on POSIX,
waitress on Windows). ``call`` runs one application exactly as a WorkflowGen post would (the
context is written, posted to the WSGI app and read back) and prints the OUT parameters.
``apps`` describes the applications, as text, JSON or the README's Markdown tables.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .apps import registry
from .apps.call import Services, to_text
from .apps.registry import App
from .context.model import Context, DataType, Direction, FileRef, Format, Parameter, Value
from .context.values import parse_datetime, parse_numeric

CONFIG = Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler = {"serve": serve, "call": call, "apps": apps}[args.command]
    return handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workflowapp", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the production server")
    serve_cmd.add_argument("--host", help="default 0.0.0.0 (gunicorn: WORKFLOWAPP_BIND)")
    serve_cmd.add_argument("--port", type=int, help="default 8000 (gunicorn: WORKFLOWAPP_BIND)")
    serve_cmd.add_argument("--workers", type=int, help="worker processes (default: config)")
    serve_cmd.add_argument("--config", default=os.environ.get("WORKFLOWAPP_GUNICORN_CONF"))
    call_cmd = commands.add_parser("call", help="run one application locally")
    call_cmd.add_argument("app")
    call_cmd.add_argument("values", nargs="*", metavar="NAME=VALUE")
    call_cmd.add_argument("--format", choices=("json", "xml", "recordset"), default="xml")
    call_cmd.add_argument("--out", action="append", default=[], help="extra OUT parameter")
    apps_cmd = commands.add_parser("apps", help="describe the applications")
    apps_cmd.add_argument("app", nargs="?")
    apps_cmd.add_argument("--json", action="store_true", help="the GET /apps document")
    apps_cmd.add_argument("--markdown", action="store_true", help="the README tables")
    return parser


def serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn (POSIX) or run waitress (Windows).

    gunicorn takes its settings from ``config/gunicorn.conf.py`` (``WORKFLOWAPP_BIND`` and
    friends); ``--host``/``--port`` override its bind address. On Windows, waitress runs with
    the sizing measured for it: 250 threads, 500 connections, 960 s channel timeout (above
    the 900 s WorkflowAppDeadline).
    """
    given = args.host is not None or args.port is not None
    bind = f"{args.host or '0.0.0.0'}:{args.port or 8000}"
    if os.name == "nt":
        import waitress

        from . import create_app

        threads = int(os.environ.get("WORKFLOWAPP_THREADS", "250"))
        waitress.serve(create_app(), listen=bind, threads=threads, connection_limit=2 * threads,
                       channel_timeout=960)
        return 0
    config = args.config or (str(CONFIG) if CONFIG.is_file() else None)
    command = [sys.executable, "-m", "gunicorn"]
    if given or not config:
        command += ["--bind", bind]
    if config:
        command += ["--config", config]
    if args.workers:
        command += ["--workers", str(args.workers)]
    command.append("workflowapp:create_app()")
    os.execv(sys.executable, command)
    return 0  # pragma: no cover - execv does not return


def call(args: argparse.Namespace) -> int:
    """Post a context built from NAME=VALUE pairs to the application; print the outputs."""
    from . import create_app
    from .context import read_context, write_context
    from .errors import AppError

    fmt = {"json": Format.JSON, "xml": Format.DATASET, "recordset": Format.RECORDSET}[args.format]
    try:
        app = registry.get(args.app)
        body = write_context(build_context(app, args.values, args.out, fmt))
    except (AppError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    flask_app = create_app()
    response = flask_app.test_client().post(
        f"/{app.name}", data=body, headers=_credentials(flask_app.extensions["workflowapp"])
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
    token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def build_context(
    app: App, values: Sequence[str], extra_out: Sequence[str], fmt: Format
) -> Context:
    """A context with the given IN values and every declared OUT parameter of ``app``."""
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
    return to_text(parameter.value)


def apps(args: argparse.Namespace) -> int:
    """Print one or all application descriptions."""
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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
