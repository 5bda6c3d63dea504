"""The start-up check: typos named with the closest known setting, SDK variables, a half-set
credential pair refused, exposure beyond the loopback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workflowapp import checks, create_app
from workflowapp.apps import registry
from workflowapp.errors import ConfigurationError
from workflowapp.settings import SCHEMA, Settings

LOG_SETTINGS = tuple(app.log_setting for app in registry.all_apps())


def load(tmp_path: Path, environ: dict[str, str], env_file: str = "",
         web_config: str = "") -> Settings:
    (tmp_path / ".env").write_text(env_file, encoding="utf-8")
    if web_config:
        (tmp_path / "web.config").write_text(
            f"<configuration><appSettings>{web_config}</appSettings></configuration>",
            encoding="utf-8")
    return Settings.load(environ, env_file=tmp_path / ".env", web_config=tmp_path / "web.config")


def test_a_typo_names_the_closest_setting_and_its_source(tmp_path: Path) -> None:
    settings = load(tmp_path, {"WorkflowAppReadTimeot": "30"}, "OpenAIChatLogLevl=3\n",
                    '<add key="WorkflowGenGraphqlUrll" value="x"/>')
    warnings = checks.unknown_settings(settings, LOG_SETTINGS)
    assert "OpenAIChatLogLevl: unknown setting; did you mean OpenAIChatLogLevel? (in .env)" \
        in warnings
    assert any(w.startswith("WorkflowAppReadTimeot: unknown setting; did you mean "
                            "WorkflowAppReadTimeout?") and "environment" in w for w in warnings)
    assert any("WorkflowGenGraphqlUrl?" in w and "web.config" in w for w in warnings)


def test_known_names_aliases_and_foreign_names_pass(tmp_path: Path) -> None:
    environ = {"OPENAIAPIKEY": "k", "AnthropicApiUrl": "https://a.example/v1/messages",
               "EchoMaxRequestBytes": "10", "WORKFLOWAPP_BIND": "127.0.0.1:1", "PATH": "/bin",
               "OPENAI_BASE_URL": "x", "MyLogLevel2": "1", "GEMINI_MODEL": "g"}
    assert checks.unknown_settings(load(tmp_path, environ), LOG_SETTINGS) == []


@given(st.sampled_from([s.name for s in SCHEMA] + list(LOG_SETTINGS)),
       st.integers(min_value=0), st.sampled_from(["drop", "double", "swap"]))
def test_any_one_letter_slip_is_flagged_with_a_suggestion(name: str, where: int, how: str
                                                          ) -> None:
    i = 1 + where % (len(name) - 2)
    typo = {"drop": name[:i] + name[i + 1:], "double": name[:i] + name[i] + name[i:],
            "swap": name[:i] + name[i + 1] + name[i] + name[i + 2:]}[how]
    assume(checks.looks_like_ours(typo))  # a slip in the prefix makes it someone else's
    settings = Settings({typo: "1"}, {typo.lower(): (typo, "environment")})
    warnings = checks.unknown_settings(settings, LOG_SETTINGS)
    if typo.lower() in checks.spellings(LOG_SETTINGS):
        assert warnings == []  # the slip spelled another known name (or the same)
    else:
        assert len(warnings) == 1 and warnings[0].startswith(f"{typo}: unknown setting; did you")


@pytest.mark.parametrize(("variable", "setting"), [("OPENAI_API_KEY", "OpenAIApiKey"),
                                                  ("ANTHROPIC_API_KEY", "AnthropicApiKey")])
def test_the_sdk_variables_are_called_out(tmp_path: Path, variable: str, setting: str) -> None:
    warnings = checks.unknown_settings(load(tmp_path, {variable: "sk-abcdefgh12345"}),
                                       LOG_SETTINGS)
    assert len(warnings) == 1 and variable in warnings[0] and f"set {setting}" in warnings[0]
    assert "sk-abcdefgh12345" not in warnings[0]


@pytest.mark.parametrize(("given_", "missing"), [({"WorkflowAppUsername": "wfgen"},
                                                  "WorkflowAppPassword"),
                                                 ({"WorkflowAppPassword": "pw-123"},
                                                  "WorkflowAppUsername")])
def test_a_half_set_pair_is_refused(given_: dict[str, str], missing: str) -> None:
    reason = checks.refusal(Settings(given_))
    assert reason is not None and missing in reason and "pw-123" not in reason
    with pytest.raises(ConfigurationError, match=missing):
        create_app(Settings({**given_, "WorkflowAppAccessLog": "off"}))


def test_both_or_neither_is_fine() -> None:
    assert checks.refusal(Settings({})) is None
    assert checks.refusal(Settings({"WorkflowAppUsername": "u", "WorkflowAppPassword": "p"})) \
        is None


def test_create_app_logs_the_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("WorkflowAppMaxRetrys=2\n", encoding="utf-8")
    monkeypatch.setenv("WorkflowAppLogPath", str(tmp_path / "logs"))
    monkeypatch.setenv("WorkflowAppAccessLog", "off")
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    create_app()
    assert "WorkflowAppMaxRetrys: unknown setting; did you mean WorkflowAppMaxRetries?" in (
        stream.getvalue())
    logged = "".join(p.read_text() for p in (tmp_path / "logs").iterdir())
    assert "did you mean WorkflowAppMaxRetries" in logged


@pytest.mark.parametrize(("bind", "exposed"), [
    ("127.0.0.1:8000", False), ("localhost:8000", False), ("[::1]:8000", False),
    ("unix:/run/workflowapp.sock", False), ("0.0.0.0:8000", True), ("[::]:8000", True),
    ("10.1.2.3:8000", True), ("llm-host.example.com:8000", True),
])
def test_exposure(bind: str, exposed: bool) -> None:
    assert checks.exposed(bind) is exposed
    warning = checks.exposure_warning([bind], Settings({}))
    assert (warning is not None) is exposed
    if warning:
        assert "spend the API key" in warning
    assert checks.exposure_warning([bind], Settings({"WorkflowAppUsername": "u",
                                                     "WorkflowAppPassword": "p"})) is None


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str, *args: object) -> None:
        self.lines.append(message % args)


class _Config:
    def __init__(self, bind: list[str]) -> None:
        self.bind = bind


class _Server:
    """What gunicorn's arbiter offers a hook: its log and its configuration."""

    def __init__(self, bind: list[str]) -> None:
        self.log = _Log()
        self.cfg = _Config(bind)


@pytest.mark.parametrize(("bind", "warned"), [(["0.0.0.0:8000"], True),
                                              (["127.0.0.1:8000"], False)])
def test_gunicorn_warns_when_anyone_can_spend_the_key(
    monkeypatch: pytest.MonkeyPatch, bind: list[str], warned: bool
) -> None:
    from workflowapp import serving

    monkeypatch.setattr(serving, "settings", lambda: Settings({}))
    server = _Server(bind)
    serving.when_ready(server)
    assert bool(server.log.lines) is warned
    if warned:
        assert "anyone who can reach this port" in server.log.lines[0]
        assert "spend the API key" in server.log.lines[0]
