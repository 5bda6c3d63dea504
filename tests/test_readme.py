"""The README stays true: generated tables, every error code, every setting."""

from __future__ import annotations

import re
from pathlib import Path

from workflowapp.apps import registry
from workflowapp.apps.call import InternalError
from workflowapp.cli import markdown_table
from workflowapp.errors import ERROR_CODES, AppError
from workflowapp.settings import SCHEMA, fallback
from workflowapp.upstream.providers import capability_table

README = Path(__file__).resolve().parent.parent / "README.md"


def generated_tables() -> str:
    """What belongs between the apps markers (``python -m tests.test_readme`` rewrites it)."""
    return "\n\n".join(markdown_table(app) for app in registry.all_apps())


def _block(text: str, name: str = "apps") -> str:
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", text, re.DOTALL)
    assert match, f"README lacks the {name} markers"
    return match.group(1).strip()


def _rewrite(content: str, name: str, block: str) -> str:
    start, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
    head, _, rest = content.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}{block}\n{end}{tail}"


def test_application_tables_match_the_declarations() -> None:
    assert _block(README.read_text(encoding="utf-8")) == generated_tables(), (
        "README tables are stale: run `python -m tests.test_readme`"
    )


def test_provider_table_matches_the_adapters_declarations() -> None:
    assert _block(README.read_text(encoding="utf-8"), "providers") == capability_table(), (
        "README provider table is stale: run `python -m tests.test_readme`"
    )


def test_every_error_code_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    codes = [error.code for error in ERROR_CODES] + [InternalError.code]
    for code in codes:
        assert f"`{code}`" in text, code


def test_every_setting_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    for setting in SCHEMA:
        assert f"`{setting.name}`" in text, setting.name
    for app in registry.all_apps():
        assert f"`{app.log_setting}`" in text, app.log_setting


if __name__ == "__main__":
    content = _rewrite(README.read_text(encoding="utf-8"), "apps", generated_tables())
    README.write_text(_rewrite(content, "providers", capability_table()), encoding="utf-8")


def _error_tree() -> dict[str, int]:
    """Every stable code of the error tree (``errors.py`` and any leaf defined elsewhere, such
    as the runner's ``internal_error``), with its HTTP status."""
    registry.all_apps()  # every module that may define an error is imported
    found: dict[str, int] = {}
    pending = list(AppError.__subclasses__())
    while pending:
        error = pending.pop()
        pending += error.__subclasses__()
        found[error.code] = error.status
    return found


def test_the_error_table_is_the_error_tree() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Errors as WorkflowGen sees them"):]
    section = section[:section.index("\n## ")]
    table = {code: int(status) for code, status in
             re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", section, re.MULTILINE)}
    assert table == _error_tree()


def test_the_env_sample_and_the_readme_agree_on_the_bind_address() -> None:
    """WorkflowGen must reach the host: the sample binds where the packaged default does."""
    root = README.parent
    sample = (root / "config" / "example.env").read_text(encoding="utf-8")
    binds = re.findall(r"^WORKFLOWAPP_BIND=(\S+)$", sample, re.MULTILINE)
    assert binds == [fallback("WORKFLOWAPP_BIND")] == ["0.0.0.0:8000"]
    text = README.read_text(encoding="utf-8")
    assert "`0.0.0.0:8000`, as `config/example.env`" in text
    unit = (root / "config" / "workflowapp.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/workflowapp/venv/bin/workflowapp serve" in unit
    # a reload checks the settings first: gunicorn would stop on one it refuses
    assert "ExecReload=/opt/workflowapp/venv/bin/workflowapp config --check\n" \
        "ExecReload=/bin/kill -s HUP $MAINPID" in unit


def test_the_gunicorn_configuration_documents_the_declared_defaults() -> None:
    """The table at the top of gunicorn_conf.py lists every server variable with the value
    declared in settings.SERVER."""
    import ast

    from workflowapp.settings import SERVER

    conf = README.parent / "workflowapp" / "gunicorn_conf.py"  # read, not run: it configures
    docstring = ast.get_docstring(ast.parse(conf.read_text(encoding="utf-8"))) or ""
    table = dict(re.findall(r"^(WORKFLOWAPP_\w+) +(\S+)", docstring, re.MULTILINE))
    assert sorted(table) == sorted(setting.name for setting in SERVER)
    for setting in SERVER:
        if setting.fallback is not None:
            assert table[setting.name] == setting.fallback, setting.name
