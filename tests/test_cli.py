"""The workflowapp command: apps, call and serve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.server import FakeOpenAI
from tests.helpers import SECRET_KEY
from workflowapp import cli

ROOT = Path(__file__).resolve().parent.parent


def test_apps_lists_every_application(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["apps"]) == 0
    text = capsys.readouterr().out
    assert "OPENAICHAT" in text and "ECHO" in text and "MODEL" in text


def test_apps_json_is_the_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["apps", "openaichat", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["name"] == "OPENAICHAT"


def test_apps_markdown_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["apps", "ECHO", "--markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("### ECHO")
    assert "| `SESSION_INFO` (ext) | TEXT | OUT |" in text


def test_call_echo_prints_the_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["call", "ECHO", "A=héllo", "--out", "A_OUT", "--format", "json"]) == 0
    text = capsys.readouterr().out
    assert "A_OUT = héllo" in text
    assert "APP_RESPONSE_STATUS = 200" in text


def test_call_rejects_malformed_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["call", "ECHO", "novalue"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_call_openaichat_against_the_fake(
    monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OpenAIApiKey", SECRET_KEY)
    monkeypatch.setenv("OpenAIChatApiUrl", fake_openai.chat_url)
    assert cli.main(["call", "OPENAICHAT", "MODEL=gpt-4o-mini", "USER_MESSAGE=Hi",
                     "TEMPERATURE=0.5"]) == 0
    out = capsys.readouterr().out
    assert "RESULT_CONTENT = Hello!" in out
    assert fake_openai.last_request.json["temperature"] == 0.5
    assert SECRET_KEY not in out


def test_call_reports_failures(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["call", "OPENAICHAT", "USER_MESSAGE=Hi"]) == 1
    assert "400" in capsys.readouterr().err


def gunicorn_options(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def run(options: list[str]) -> int:
        seen.update(argv=options)
        return 0

    monkeypatch.setattr("workflowapp.cli.run_gunicorn", run)
    monkeypatch.setenv("WORKFLOWAPP_BIND", "0.0.0.0:8000")  # serve --port sets it: undone after
    return seen


def test_serve_runs_gunicorn_with_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = gunicorn_options(monkeypatch)
    assert cli.main(["serve", "--host", "127.0.0.1", "--port", "8123", "--workers", "3"]) == 0
    argv = seen["argv"]
    assert "127.0.0.1:8123" in argv and "3" in argv
    assert os.environ["WORKFLOWAPP_BIND"] == "127.0.0.1:8123"  # the bind the check judges
    assert argv[-1] == "workflowapp:create_app()"
    assert argv[argv.index("--config") + 1] == str(cli.CONFIG)
    assert cli.CONFIG.parent.name == "workflowapp", "the measured configuration ships inside"


def test_serve_takes_a_configuration_of_ones_own(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = gunicorn_options(monkeypatch)
    assert cli.main(["serve", "--config", "/etc/workflowapp/gunicorn.conf.py"]) == 0
    assert seen["argv"][seen["argv"].index("--config") + 1] == "/etc/workflowapp/gunicorn.conf.py"


def test_serve_imports_nothing_of_the_application_before_gunicorn() -> None:
    script = (
        "import sys\n"
        "import gunicorn.app.wsgiapp\n"
        "def run(prog):\n"
        "    print(sys.argv[0])\n"
        "    print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "        ('workflowapp', 'flask', 'werkzeug', 'lxml', 'requests', 'prometheus_client'))))\n"
        "    sys.exit(0)\n"
        "gunicorn.app.wsgiapp.run = run\n"
        "from workflowapp.cli import main\n"
        "main(['serve'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=True)
    first, modules = done.stdout.splitlines()
    assert first.endswith(os.path.join("gunicorn", "__main__.py"))  # what USR2 re-executes
    assert modules.split() == ["workflowapp", "workflowapp.cli"]


def test_serve_leaves_the_bind_to_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = gunicorn_options(monkeypatch)
    assert cli.main(["serve"]) == 0
    assert "--bind" not in seen["argv"], "WORKFLOWAPP_BIND in gunicorn.conf.py decides"


@pytest.mark.parametrize("argv", [["call", "NOPE"], ["call", "OPENAICHAT", "TEMPERATURE=nan"],
                                  ["call", "OPENAICHAT", "TEMPERATURE=1,5"]])
def test_call_input_errors_exit_2_without_a_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_call_with_a_file_and_basic_auth(
    monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI, tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    audio = tmp_path / "note.wav"
    audio.write_bytes(b"RIFF....WAVEfmt fake audio")
    for key, value in {"OpenAIApiKey": SECRET_KEY, "WorkflowAppAllowedFolders": str(tmp_path),
                       "OpenAITranscriptionApiUrl": fake_openai.transcriptions_url,
                       "WorkflowAppUsername": "wfgen", "WorkflowAppPassword": "pw-123456"}.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["call", "OPENAITRANSCRIPTION", f"FILE={audio}"]) == 0
    assert "TEXT = Hello world." in capsys.readouterr().out
    assert fake_openai.last_request.files["file"].filename == "note.wav"


@pytest.mark.parametrize("argv", [["apps", "NOPE"], ["apps", "NOPE", "--json"]])
def test_apps_unknown_exits_2_without_a_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "NOPE" in err and "Traceback" not in err


def test_apps_into_a_closed_pipe_ends_quietly() -> None:
    """`workflowapp apps | head -1`: the reader leaves early; no BrokenPipeError."""
    with subprocess.Popen([sys.executable, "-m", "workflowapp.cli", "apps", "--json"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader has gone before the listing is written
        err = process.stderr.read().decode()
        assert process.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_call_refuses_a_half_set_credential_pair(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WorkflowAppUsername", "wfgen")
    monkeypatch.delenv("WorkflowAppPassword", raising=False)
    assert cli.main(["call", "ECHO", "A=1"]) == 2
    err = capsys.readouterr().err
    assert "WorkflowAppPassword" in err and "Traceback" not in err


def test_config_shows_values_sources_and_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("WorkflowAppReadTimeout=30\nOpenAIChatLogLevl=3\n"
                                   "WORKFLOWAPP_BIND=0.0.0.0:8123\n", encoding="utf-8")
    (tmp_path / "web.config").write_text(
        '<configuration><appSettings><add key="WorkflowAppDeadline" value="60"/>'
        '<add key="WorkflowGenPassword" value="gql-secret-99"/></appSettings></configuration>',
        encoding="utf-8")
    monkeypatch.setenv("OpenAIApiKey", SECRET_KEY)
    monkeypatch.setenv("AnthropicApiUrl", "https://proxy.example/v1/messages")
    assert cli.main(["config"]) == 0
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in
            capsys.readouterr().out.splitlines() if line and not line.startswith(("warning",
                                                                                  "start-up"))}
    out = "\n".join(" ".join(v) for v in rows.values())
    assert SECRET_KEY not in out and "gql-secret-99" not in out
    assert rows["OpenAIApiKey"] == ["environment", "******** (secret)"]
    assert rows["WorkflowGenPassword"] == ["web.config", "******** (secret)"]
    assert rows["WorkflowAppReadTimeout"] == [".env", "30"]
    assert rows["WorkflowAppDeadline"] == ["web.config", "60"]
    assert rows["WorkflowAppMaxRetries"] == ["default", "2"]
    assert rows["AnthropicChatApiUrl"] == ["environment", "https://proxy.example/v1/messages"]
    assert rows["MistralApiKey"] == ["default", "(not set)"]
    assert rows["WORKFLOWAPP_BIND"] == [".env", "0.0.0.0:8123"]
    assert rows["EchoLogLevel"] == ["default", "0"]
    assert rows["OpenAIChatApiUrl"] == ["default", "https://api.openai.com/v1/chat/completions"]
    assert rows["MistralChatApiUrl"] == ["default", "https://api.mistral.ai/v1/chat/completions"]
    assert rows["WorkflowAppAllowedHosts"] == ["computed", "api.anthropic.com,api.mistral.ai,"
                                               "api.openai.com,generativelanguage.googleapis.com,"
                                               "https://proxy.example"]
    assert rows["WORKFLOWAPP_WORKERS"] == ["computed", str(os.cpu_count() or 1)]
    assert rows["WORKFLOWAPP_KEEPALIVE"] == ["default", "5"]
    assert rows["WORKFLOWAPP_WEB_CONFIG"] == ["default", "web.config"]
    assert rows["WORKFLOWAPP_GUNICORN_CONF"] == ["default", str(cli.CONFIG)]


def test_config_flags_unknown_names_and_refuses_a_half_pair(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OpenAIChatLogLevl", "3")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    assert "warning: OpenAIChatLogLevl: unknown setting; did you mean OpenAIChatLogLevel?" in out
    assert "warning: OPENAI_API_KEY" in out and SECRET_KEY not in out
    assert out.rstrip().endswith("start-up check: passed with warnings")
    monkeypatch.setenv("WorkflowAppPassword", "pw-0123456")
    assert cli.main(["config"]) == 1
    out = capsys.readouterr().out
    assert "error: WorkflowAppPassword is set but WorkflowAppUsername is not" in out
    assert "pw-0123456" not in out


def packaged_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The names the packaged gunicorn configuration defines, run as gunicorn runs it (its
    settings read afresh; the metrics folder in ``tmp_path``, no global change)."""
    import runpy

    from workflowapp import serving

    monkeypatch.setattr(serving, "metrics_folder", lambda: str(tmp_path))
    serving.settings.cache_clear()
    try:
        return runpy.run_path(str(cli.CONFIG))
    finally:
        serving.settings.cache_clear()


def test_the_served_configuration_reads_dot_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """WORKFLOWAPP_BIND/WORKFLOWAPP_WORKERS in ./.env count, below the environment."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("WORKFLOWAPP_BIND=0.0.0.0:8123\nWORKFLOWAPP_WORKERS=3\n",
                                   encoding="utf-8")
    monkeypatch.setenv("WORKFLOWAPP_WORKERS", "5")
    conf = packaged_configuration(monkeypatch, tmp_path)
    assert conf["bind"] == ["0.0.0.0:8123"] and conf["workers"] == 5
    assert conf["worker_class"] == "gevent" and conf["timeout"] == 960


@pytest.mark.parametrize(("variables", "shown"), [
    ({"WorkflowAppMaxRequestBytes": "lots"},
     "WorkflowAppMaxRequestBytes = 'lots' (in environment): expected a whole number from 1."),
    ({"WorkflowAppPathMap": "nonsense"}, "WorkflowAppPathMap = 'nonsense'"),
    ({"WorkflowAppMetrics": "maybe"}, "expected on or off"),
    ({"WorkflowAppAccessLog": "/nonexistent/dir/x.log"}, "/nonexistent/dir does not exist"),
    ({"WORKFLOWAPP_WORKERS": "abc"}, "WORKFLOWAPP_WORKERS = 'abc'"),
    ({"WORKFLOWAPP_BIND": "0.0.0.0:http"}, "WORKFLOWAPP_BIND = '0.0.0.0:http'"),
])
def test_config_exits_1_on_a_value_the_host_cannot_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variables: dict[str, str], shown: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["config"]) == 1
    out = capsys.readouterr().out
    assert f"error: {next(iter(variables))} = " in out and shown in out
    assert "start-up check: passed" not in out


def test_config_check_prints_only_the_findings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the systemd unit runs before a reload: findings and the exit status only."""
    monkeypatch.setenv("OpenAIApiKey", "sk-test-0123456789abcdef")
    assert cli.main(["config", "--check"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("start-up check: passed")
    monkeypatch.setenv("WorkflowAppPoolSize", "abc")
    assert cli.main(["config", "--check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("error: WorkflowAppPoolSize = 'abc'") and "sk-test" not in out
    assert "OpenAIApiKey" not in out  # no table of settings


def test_config_exits_1_on_a_web_config_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "web.config").write_text('<configuration><appSettings><add key="x"')
    assert cli.main(["config"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("error: Cannot read web.config")
    assert "Traceback" not in captured.out + captured.err


def test_config_shows_what_the_gunicorn_configuration_uses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The values config shows for the server are those the packaged configuration reads."""
    from workflowapp.settings import Settings

    monkeypatch.setenv("WORKFLOWAPP_KEEPALIVE", "7")
    conf = packaged_configuration(monkeypatch, tmp_path)
    rows = {name: value for name, _, value in cli.config_rows(Settings.load(), ())}
    assert conf["bind"] == [rows["WORKFLOWAPP_BIND"]]
    for name in ("workers", "worker_connections", "threads", "timeout", "graceful_timeout",
                 "keepalive"):
        assert str(conf[name]) == rows[f"WORKFLOWAPP_{name.upper()}"], name
    assert conf["keepalive"] == 7
    assert conf["worker_class"] == rows["WORKFLOWAPP_WORKER_CLASS"]
    assert conf["loglevel"] == rows["WORKFLOWAPP_GUNICORN_LOGLEVEL"]
    assert conf["forwarded_allow_ips"] == rows["WORKFLOWAPP_FORWARDED_ALLOW_IPS"]
    assert conf["preload_app"] is False and rows["WORKFLOWAPP_PRELOAD"] == "0"
    assert conf["accesslog"] is None and rows["WORKFLOWAPP_ACCESSLOG"] == "(not set)"
