"""Settings: precedence, case-insensitive keys, typed host settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflowapp.errors import ConfigurationError
from workflowapp.settings import Settings

WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <appSettings>
    <add key="OpenAiApiKey" value="from-web-config" />
    <add key="OpenAIChatLogLevel" value="3" />
    <add key="OpenAIChatApiUrl" value="https://llm.example.com/v1/chat/completions" />
    <add key="WorkflowAppMaxRequestBytes" value="1000" />
  </appSettings>
</configuration>
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    web_config = tmp_path / "web.config"
    web_config.write_text(WEB_CONFIG, encoding="utf-8")
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAICHATLOGLEVEL=2\nEchoLogLevel=1\n", encoding="utf-8")
    return web_config, env_file


def test_precedence_environment_then_env_file_then_web_config(files: tuple[Path, Path]) -> None:
    web_config, env_file = files
    settings = Settings.load({"openaiapikey": "from-env"}, env_file=env_file,
                             web_config=web_config)
    assert settings.get("OpenAIApiKey") == "from-env"
    assert settings.get("OpenAIChatLogLevel") == "2"
    assert settings.get("EchoLogLevel") == "1"
    assert settings.max_request_bytes == 1000


def test_both_documented_spellings_address_one_key(files: tuple[Path, Path]) -> None:
    web_config, env_file = files
    settings = Settings.load({}, env_file=env_file, web_config=web_config)
    assert settings.get("OpenAIApiKey") == settings.get("OpenAiApiKey") == "from-web-config"
    assert settings.get("OpenAiChatLogLevel") == "2"


def test_paths_come_from_the_environment(files: tuple[Path, Path]) -> None:
    web_config, env_file = files
    settings = Settings.load(
        {"WORKFLOWAPP_WEB_CONFIG": str(web_config), "WORKFLOWAPP_ENV_FILE": str(env_file)}
    )
    assert settings.get("OpenAIChatApiUrl") == "https://llm.example.com/v1/chat/completions"


def test_defaults_and_missing_files(tmp_path: Path) -> None:
    settings = Settings.load({}, env_file=tmp_path / "none", web_config=tmp_path / "none")
    assert settings.max_request_bytes == 30_000_000
    assert settings.get("WorkflowAppLogPath") == "./logs"
    assert settings.get("OpenAIApiKey") is None
    assert settings.credentials is None


def test_empty_value_counts_as_absent() -> None:
    assert Settings({"OpenAIApiKey": ""}).get("OpenAIApiKey", "d") == "d"


def test_allowed_hosts_default_and_explicit() -> None:
    settings = Settings({"OpenAIChatApiUrl": "https://Res.openai.azure.com/openai/v1/chat",
                         "OpenAIModerationApiUrl": "http://127.0.0.1:8080/v1/moderations"})
    assert settings.allowed_hosts == {"api.openai.com", "api.anthropic.com", "api.mistral.ai",
                                      "generativelanguage.googleapis.com",
                                      "https://res.openai.azure.com", "http://127.0.0.1:8080"}
    explicit = Settings({"WorkflowAppAllowedHosts": "a.example, *.b.example",
                         "OpenAIChatApiUrl": "https://llm.example/v1/chat/completions"})
    assert explicit.allowed_hosts == {"a.example", "*.b.example", "https://llm.example"}


def test_path_map_longest_prefix_first() -> None:
    settings = Settings({"WorkflowAppPathMap": r"\\wfgen=/mnt/a;\\wfgen\storage=/mnt/b"})
    assert [m.source for m in settings.path_map] == [r"\\wfgen\storage", r"\\wfgen"]
    with pytest.raises(ConfigurationError, match="from=to"):
        _ = Settings({"WorkflowAppPathMap": "nonsense"}).path_map


def test_bad_numbers_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="WorkflowAppMaxRequestBytes"):
        _ = Settings({"WorkflowAppMaxRequestBytes": "lots"}).max_request_bytes


def test_hostile_web_config_is_not_expanded(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<configuration><appSettings><add key="K" value="&x;"/></appSettings></configuration>'
    )
    with pytest.raises(ConfigurationError, match="entity") as info:
        Settings.load({}, env_file=tmp_path / "none", web_config=path)
    assert "root:" not in str(info.value)


def test_repr_hides_secrets() -> None:
    text = repr(Settings({"OpenAIApiKey": "sk-hidden-123456", "WorkflowAppPassword": "pw-xyz"}))
    assert "sk-hidden-123456" not in text and "pw-xyz" not in text


def test_web_config_sample_is_readable_and_complete() -> None:
    from workflowapp.apps import registry
    from workflowapp.settings import SCHEMA, read_web_config

    sample = Path(__file__).resolve().parent.parent / "web.config.sample"
    keys = {key.lower() for key in read_web_config(sample)}
    expected = {s.name for s in SCHEMA} | {app.log_setting for app in registry.all_apps()}
    assert sorted(key for key in expected if key.lower() not in keys) == []


def test_schema_aliases_secrets_and_known_names() -> None:
    from workflowapp.settings import SECRET_SETTINGS, URL_SETTINGS, declared, known_names

    settings = Settings({"AnthropicApiUrl": "https://a.example/v1/messages"})
    assert settings.get("AnthropicChatApiUrl") == "https://a.example/v1/messages"
    both = Settings({"AnthropicApiUrl": "https://old.example", "anthropicchatapiurl": "https://new"})
    assert both.get("AnthropicChatApiUrl") == "https://new"
    for name in ("AnthropicApiKey", "MistralApiKey", "GeminiApiKey", "OpenAIApiKey"):
        assert name in SECRET_SETTINGS
    assert "GeminiChatApiUrl" in URL_SETTINGS
    assert declared("openaiapikey") is declared("OpenAiApiKey")
    names = known_names(("OpenAIChatLogLevel",))
    assert {"openaichatloglevel", "openaichatmaxrequestbytes", "anthropicapiurl"} <= names


def test_every_default_is_a_value_its_kind_takes() -> None:
    from workflowapp.settings import APP_SETTINGS, SCHEMA, VARIABLES

    for setting in (*SCHEMA, *VARIABLES, *APP_SETTINGS):
        value = setting.default or setting.fallback
        if setting.computed is not None:
            value = setting.computed(Settings({}))
        if value is not None and setting.kind is not None:
            assert setting.kind.problem(value) is None, setting.name


def test_numbers_are_read_as_declared() -> None:
    settings = Settings({"WorkflowAppReadTimeout": "2.5", "WorkflowAppPoolSize": "1e3",
                         "WorkflowAppMaxRetries": "", "EchoMaxRequestBytes": "10",
                         "WORKFLOWAPP_WORKERS": " 3 "})
    assert settings.get_float("WorkflowAppReadTimeout") == 2.5
    assert settings.get_int("WorkflowAppPoolSize") == 1000
    assert settings.get_int("WorkflowAppMaxRetries") == 2  # empty: the default
    assert settings.get_int("EchoMaxRequestBytes") == 10
    assert settings.get_int("WORKFLOWAPP_WORKERS") == 3
    assert settings.get_int("WORKFLOWAPP_KEEPALIVE") == 5  # a server variable's default
    with pytest.raises(ConfigurationError, match=r"^WorkflowAppPoolSize = '0': expected a whole "
                                                 r"number from 1 to 100000\.$"):
        Settings({"WorkflowAppPoolSize": "0"}).get_int("WorkflowAppPoolSize")
    with pytest.raises(TypeError):  # a fractional setting read as a whole number
        settings.get_int("WorkflowAppReadTimeout")
    with pytest.raises(TypeError):  # not declared as a number
        settings.get_float("WorkflowAppUsername")


def test_values_in_force_and_where_they_come_from() -> None:
    import os

    settings = Settings({"WorkflowAppDeadline": "60", "OpenAIChatApiUrl": "http://llm:8001/v1"},
                        {"workflowappdeadline": ("WorkflowAppDeadline", ".env")})
    assert settings.in_force("WorkflowAppDeadline") == ("60", ".env")
    assert settings.in_force("WorkflowAppMaxRetries") == ("2", "default")
    assert settings.in_force("MistralChatApiUrl") == (
        "https://api.mistral.ai/v1/chat/completions", "default")
    assert settings.get("MistralChatApiUrl") is None  # unset URLs admit no host of their own
    assert settings.in_force("EchoLogLevel") == ("0", "default")
    assert settings.in_force("WORKFLOWAPP_WORKERS") == (str(os.cpu_count() or 1), "computed")
    hosts, source = settings.in_force("WorkflowAppAllowedHosts")
    assert source == "computed" and hosts is not None
    assert hosts.split(",") == sorted(settings.allowed_hosts)
    assert "http://llm:8001" in hosts and "api.openai.com" in hosts
    assert settings.in_force("OpenAIApiKey") == (None, "default")


def test_the_applications_use_the_documented_endpoints() -> None:
    from workflowapp.apps import chat, moderation, transcription
    from workflowapp.upstream.providers import Provider

    assert chat.DEFAULT_URL == "https://api.openai.com/v1/chat/completions"
    assert moderation.DEFAULT_URL == "https://api.openai.com/v1/moderations"
    assert transcription.DEFAULT_URL == "https://api.openai.com/v1/audio/transcriptions"
    assert chat.PROVIDER_URLS == {
        Provider.ANTHROPIC: ("AnthropicChatApiUrl", "https://api.anthropic.com/v1/messages"),
        Provider.MISTRAL: ("MistralChatApiUrl", "https://api.mistral.ai/v1/chat/completions"),
        Provider.GEMINI: ("GeminiChatApiUrl", "https://generativelanguage.googleapis.com/v1beta/"
                          "openai/chat/completions"),
    }


def test_the_provider_choice_is_the_providers() -> None:
    from workflowapp.settings import PROVIDERS
    from workflowapp.upstream.providers import Provider

    assert sorted(PROVIDERS) == sorted(provider.value for provider in Provider)


def test_a_blank_value_counts_as_absent() -> None:
    settings = Settings({"WorkflowAppPoolSize": "  ", "OpenAIApiKey": " \t"})
    assert settings.get("OpenAIApiKey") is None
    assert settings.get_int("WorkflowAppPoolSize") == 1000


def test_the_settings_files_come_from_the_environment_only(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("WORKFLOWAPP_WEB_CONFIG=elsewhere.config\nK=1\n")
    settings = Settings.load({"WORKFLOWAPP_ENV_FILE": str(tmp_path / "a.env")})
    assert settings.get("K") == "1"
    assert settings.source("WORKFLOWAPP_WEB_CONFIG") == ".env"  # shown, and warned about
