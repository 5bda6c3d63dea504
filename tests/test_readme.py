"""The README stays true: generated tables, every error code, every setting."""

from __future__ import annotations

import re
from pathlib import Path

from workflowapp.apps import registry
from workflowapp.apps.call import InternalError
from workflowapp.cli import markdown_table
from workflowapp.errors import ERROR_CODES
from workflowapp.settings import SCHEMA
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
