"""The start-up check: typos named with the closest known setting, SDK variables, a half-set
credential pair and values the host cannot use refused, exposure beyond the loopback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workflowapp import checks, create_app
from workflowapp.apps import registry
from workflowapp.errors import ConfigurationError
from workflowapp.kinds import Number
from workflowapp.settings import SCHEMA, SERVER, Settings

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
    [reason] = checks.refusals(Settings(given_))
    assert missing in reason and "pw-123" not in reason
    with pytest.raises(ConfigurationError, match=missing):
        create_app(Settings({**given_, "WorkflowAppAccessLog": "off"}))


def test_both_or_neither_is_fine() -> None:
    assert checks.refusals(Settings({})) == []
    assert checks.refusals(Settings({"WorkflowAppUsername": "u", "WorkflowAppPassword": "p"})) \
        == []


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


#: Every numeric setting and server variable, and one application's own limit.
NUMERIC = [s.name for s in (*SCHEMA, *SERVER) if isinstance(s.kind, Number)] + [
    "OpenAIChatMaxRequestBytes"]
numbers = st.one_of(
    st.text(), st.integers().map(str), st.floats().map(repr),
    st.text(st.sampled_from("0123456789.e+-_ "), max_size=12),
    st.sampled_from(["nan", "inf", "1e400", "1_000", " 5 ", "0x10", "١٢", "2.0", "1e3"]),
)


@given(st.sampled_from(NUMERIC), numbers)
def test_the_check_and_the_getters_agree_on_every_number(name: str, value: str) -> None:
    """Whatever a numeric setting holds, either the check refuses it, naming the setting and
    the value, or the getter the host reads it with takes it: never a traceback later."""
    settings = Settings({name: value})
    if name.startswith("OpenAIChat") and settings.get(name) is None:
        return  # an application's limit is read only when set (web.py)
    whole = not name.endswith(("Timeout", "Deadline", "RetryAfter"))
    getter = settings.get_int if whole else settings.get_float
    refused = [reason for reason in checks.refusals(settings) if reason.startswith(name)]
    if refused:
        assert refused == [f"{name} = {value!r}: {refused[0].split(': ', 1)[1]}"]
        with pytest.raises(ConfigurationError, match=f"^{name} = "):
            getter(name)
    else:
        getter(name)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("WorkflowAppMaxRequestBytes", "lots", "expected a whole number from 1"),
    ("WorkflowAppPoolSize", "abc", "expected a whole number from 1 to 100000"),
    ("WorkflowAppReadTimeout", "0", "expected a number above 0 to 86400"),
    ("EchoMaxRequestBytes", "-5", "expected a whole number from 1"),
    ("WorkflowAppPathMap", "nonsense", "expected ';'-separated 'from=to' entries"),
    ("WorkflowAppMetrics", "maybe", "expected on or off"),
    ("WorkflowAppAccessLog", "/nonexistent/dir/x.log",
     "the folder /nonexistent/dir does not exist"),
    ("WorkflowAppAllowedHosts", "http://[::1", "expected comma-separated hosts"),
    ("OpenAIChatApiUrl", "http://[::1", "expected an http(s) URL"),
    ("AnthropicApiUrl", "ftp://x", "expected an http(s) URL"),
    ("OpenAIProvider", "bedrock", "expected openai, anthropic"),
    ("AnthropicPromptCache", "maybe", "expected Y or N"),
    ("WORKFLOWAPP_WORKERS", "abc", "expected a whole number from 1"),
    ("WORKFLOWAPP_WORKERS", "0", "expected a whole number from 1"),
    ("WORKFLOWAPP_BIND", "0.0.0.0:abc", "expected host:port"),
    ("WORKFLOWAPP_WORKER_CLASS", "nope", "expected gevent"),
    ("WORKFLOWAPP_PRELOAD", "2", "expected on or off"),
    ("WORKFLOWAPP_ACCESSLOG", "/nonexistent/dir/x.log", "does not exist"),
    ("WORKFLOWAPP_FORWARDED_ALLOW_IPS", "foo", "'foo' is not one"),
    ("WORKFLOWAPP_GUNICORN_LOGLEVEL", "loud", "expected debug, info"),
])
def test_a_value_the_host_cannot_use_is_refused(name: str, value: str, expected: str) -> None:
    settings = Settings({name: value}, {name.lower(): (name, ".env")})
    [reason] = checks.refusals(settings)
    named = "AnthropicChatApiUrl" if name == "AnthropicApiUrl" else name  # an older spelling
    assert reason.startswith(f"{named} = {value!r} (in .env): ") and expected in reason
    with pytest.raises(ConfigurationError, match=expected.split(" ")[0]):
        create_app(Settings({name: value}))


def test_create_app_reports_every_refusal_at_once() -> None:
    """Even WorkflowAppLogMaxBytes, which configuring the logs would read first."""
    with pytest.raises(ConfigurationError) as refused:
        create_app(Settings({"WorkflowAppLogMaxBytes": "big", "WorkflowAppPoolSize": "abc"}))
    assert "WorkflowAppLogMaxBytes" in refused.value.message
    assert "WorkflowAppPoolSize" in refused.value.message


def test_a_refusal_never_shows_a_password_in_a_url() -> None:
    settings = Settings({"WorkflowGenGraphqlUrl": "http://admin:pw-in-url-7@wfgen/graphql"})
    [reason] = checks.refusals(settings)
    assert "pw-in-url-7" not in reason and "***@wfgen" in reason


def test_log_levels_and_misplaced_file_variables_are_warned_about() -> None:
    settings = Settings({"EchoLogLevel": "debug", "WorkflowAppLogLevel": "2",
                         "WORKFLOWAPP_WEB_CONFIG": "x.config"},
                        {"echologlevel": ("EchoLogLevel", "web.config"),
                         "workflowapp_web_config": ("WORKFLOWAPP_WEB_CONFIG", ".env")})
    assert checks.refusals(settings) == []
    assert checks.warnings(settings, LOG_SETTINGS) == [
        "WORKFLOWAPP_WEB_CONFIG (in .env) is read from the process environment only: this "
        "value is ignored.",
        "EchoLogLevel = 'debug' (in web.config): expected 0 (off), 1 (errors), 2 (info) or 3 "
        "(debug); the host uses 0.",
    ]
