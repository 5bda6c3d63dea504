"""Secrets never leak: every application, success and error paths, all log output at level 3,
replies (both formats and error texts), and what is sent upstream outside the auth header."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.fakes import replies
from tests.fakes.server import FakeOpenAI
from tests.helpers import FORMATS, SECRET_KEY, out, param, post
from workflowapp import create_app, logs
from workflowapp.apps import registry
from workflowapp.context.model import Format
from workflowapp.settings import Settings
from workflowapp.upstream import Client

CALL_KEY = "sk-call-PARAMETER-key-0987654321"
PASSWORD = "endpoint-pass-4242"
LEVELS = {app.log_setting: "3" for app in registry.all_apps()} | {"WorkflowAppLogLevel": "3"}


@pytest.fixture
def logged(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> tuple[WebClient, io.StringIO, Path]:
    """A client whose every log line (stderr stream and daily file) is captured."""
    settings = make_settings(**LEVELS, WorkflowAppUsername="wfgen", WorkflowAppPassword=PASSWORD)
    client = create_app(settings, Client(allowed_hosts=settings.allowed_hosts,
                                         sleep=lambda _: None)).test_client()
    stream = io.StringIO()
    logs.configure(settings, stream=stream)
    return client, stream, tmp_path / "logs"


def _auth() -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"wfgen:{PASSWORD}".encode()).decode()}


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET_KEY, CALL_KEY, PASSWORD) if s in text]


def _all_logs(stream: io.StringIO, folder: Path) -> str:
    files = "".join(p.read_text() for p in folder.glob("*.log"))
    return stream.getvalue() + files


def _is_input(app: registry.App, name: str) -> bool:
    declared = app.param(name)
    return declared is not None and declared.direction.value != "OUT"


def _params_for(app: registry.App, key: str | None) -> list[Any]:
    params: list[Any] = []
    for declared in app.params:
        if declared.pattern:
            continue
        if declared.direction.value == "OUT":
            params.append(out(declared.name, declared.type.value))
    if key:
        params.append(param("API_KEY", key))
    return params


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", [None, CALL_KEY])
@pytest.mark.parametrize("upstream_fault", [False, True])
@pytest.mark.parametrize("ignore", ["N", "Y"])
@pytest.mark.parametrize("app_name", [app.name for app in registry.all_apps()])
def test_no_secret_in_replies_logs_or_upstream_bodies(
    logged: tuple[WebClient, io.StringIO, Path], fake_openai: FakeOpenAI, app_name: str,
    fmt: Format, key: str | None, upstream_fault: bool, ignore: str,
) -> None:
    client, stream, folder = logged
    app = registry.get(app_name)
    if upstream_fault:
        # A hostile or careless upstream echoing the key back in its error body.
        body = replies.error_body(f"bad key {key or SECRET_KEY} Authorization: Bearer x")
        for _ in range(3):
            fake_openai.push(replies.error_reply(401, body))
    inputs = [param("MODEL", "gpt-4o-mini"), param("USER_MESSAGE", f"hi {SECRET_KEY}"[:2]),
              param("TEXT", "moderate me"), param("ROLE", "user"), param("CONTENT", "c"),
              param("TOOLS", '[{"name": "T", "id": "c1", "parameters": {}}]'),
              param("TOOL_DATA", '{"name": "T", "id": "c1", "parameters": {}}'),
              param("APP_RESPONSE_IGNORE_ERROR", ignore)]
    declared_inputs = [p for p in inputs if app.name == "ECHO" or _is_input(app, p.name)]
    reply = post(client, app_name, *declared_inputs, *_params_for(app, key), fmt=fmt,
                 headers=_auth())
    assert reply.status != 401
    assert _leaks(reply.text) == [], reply.text
    assert _leaks(json.dumps({k: str(v) for k, v in reply.values.items()})) == []
    assert _leaks(_all_logs(stream, folder)) == []
    for request in fake_openai.requests:
        assert request.secret_locations(key or SECRET_KEY) == []
    fake_openai.expect_invalid()


def test_repr_of_settings_and_client_hide_keys(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(WorkflowAppPassword=PASSWORD)
    assert _leaks(repr(settings)) == []
    assert _leaks(repr(Client())) == []


def test_unauthenticated_error_does_not_echo_credentials(
    logged: tuple[WebClient, io.StringIO, Path],
) -> None:
    client, stream, folder = logged
    response = client.post("/ECHO", data=b"<NewDataSet/>",
                           headers={"Authorization": f"Basic {PASSWORD}"})
    assert response.status_code == 401
    assert _leaks(response.get_data(as_text=True) + _all_logs(stream, folder)) == []


def test_repr_of_a_context_hides_keys() -> None:
    from tests.helpers import context
    from workflowapp.context import read_context
    from workflowapp.context.model import Format

    ctx = read_context(context(param("API_KEY", CALL_KEY), param("MY_PASSWORD", PASSWORD),
                               param("MODEL", "m"), fmt=Format.JSON))
    text = repr(ctx)
    assert _leaks(text) == [] and "'m'" in text


PROVIDER_KEYS = {"anthropic": "sk-ant-SECRET-anthropic-key-1234",
                 "mistral": "SECRET-mistral-key-5678abcd",
                 "gemini": "AIzaSECRET-gemini-key-9012"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("by_parameter", [False, True])
@pytest.mark.parametrize("upstream_fault", [False, True])
@pytest.mark.parametrize("provider", sorted(PROVIDER_KEYS))
def test_provider_keys_never_leak(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path,
    provider: str, fmt: Format, by_parameter: bool, upstream_fault: bool,
) -> None:
    """AnthropicApiKey, MistralApiKey and GeminiApiKey are secrets like OpenAIApiKey: not in
    replies, logs at level 3, error texts, nor anywhere upstream but the auth header."""
    fake = request.getfixturevalue(f"fake_{provider}")
    secrets = list(PROVIDER_KEYS.values())
    key = PROVIDER_KEYS[provider]
    url = fake.messages_url if provider == "anthropic" else fake.chat_url
    setting = f"{provider.capitalize()}ApiKey"
    values = {**LEVELS, f"{provider.capitalize()}ChatApiUrl": url,
              **({} if by_parameter else {setting: key}),
              **{f"{p.capitalize()}ApiKey": k for p, k in PROVIDER_KEYS.items() if p != provider}}
    settings = make_settings(**values)
    client = create_app(settings, Client(allowed_hosts=settings.allowed_hosts,
                                         sleep=lambda _: None)).test_client()
    stream = io.StringIO()
    logs.configure(settings, stream=stream)
    if upstream_fault:
        echo = f"invalid key {key} (Authorization: Bearer {key})"
        for _ in range(3):
            if provider == "anthropic":
                from tests.fakes.anthropic_replies import anthropic_error

                fake.push(anthropic_error(401, echo))
            else:
                fake.push(replies.error_reply(401, replies.error_body(echo)))
    params = [param("MODEL", "m"), param("PROVIDER", provider), param("USER_MESSAGE", "hi"),
              param("APP_RESPONSE_IGNORE_ERROR", "Y" if upstream_fault else "N"),
              out("RESULT"), out("RESULT_CONTENT"), out("APP_RESPONSE_CONTENT"),
              out("APP_RESPONSE_STATUS")]
    if by_parameter:
        params.append(param("API_KEY", key))
    reply = post(client, "OPENAICHAT", *params, fmt=fmt)
    assert reply.status == 200, reply.text
    shown = reply.text + json.dumps({k: str(v) for k, v in reply.values.items()})
    shown += _all_logs(stream, tmp_path / "logs")
    assert [s for s in secrets if s in shown] == []
    assert fake.requests, "the call went upstream"
    for sent in fake.requests:
        assert sent.secret_locations(key) == []
        assert sent.api_key == key


# --- a key spelled otherwise on the wire never reaches a level-3 log -------------------------

WIRE_KEY = "sk-wire_KEY&part-0123456789"


def _respelled(fmt: Format) -> list[bytes]:
    """The same context with API_KEY written in each other way its format allows."""
    from tests.helpers import context

    body = context(param("API_KEY", WIRE_KEY), param("TEXT", "t"), out("RESULT"), fmt=fmt)
    if fmt is Format.JSON:
        plain = json.dumps(WIRE_KEY).encode()
        return [body, body.replace(plain, b'"sk-wire\\u005fKEY\\u0026part-0123456789"'),
                body.replace(plain, b'"sk-wire_KEY&part-01\\u0032\\u0033456789"')]
    entity = b"sk-wire_KEY&amp;part-0123456789"
    assert entity in body
    return [body, body.replace(entity, b"<![CDATA[sk-wire_KEY&part-01]]><![CDATA[23456789]]>"),
            body.replace(entity, b"sk-wire&#95;KEY&#x26;part-0123456789")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_level_3_logs_the_parsed_context_without_its_key(
    logged: tuple[WebClient, io.StringIO, Path], fmt: Format
) -> None:
    client, stream, folder = logged
    for body in _respelled(fmt):
        response = client.post("/ECHO", data=body, headers=_auth())
        assert response.status_code == 200
    text = _all_logs(stream, folder)
    assert "request context:" in text and "reply context:" in text
    for part in ("sk-wire", "KEY&part", "0123456789", "23456789", "#95;KEY"):
        assert part not in text


# --- a key echoed by the upstream never lands in OUT parameters ------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", [None, CALL_KEY])
def test_keys_echoed_by_the_upstream_are_redacted_from_every_out_value(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, fmt: Format,
    key: str | None,
) -> None:
    others = {"AnthropicApiKey": "sk-ant-other-provider-1111", "GeminiApiKey": "AIzaGemini2222",
              "MistralApiKey": "mistral-key-3333/+x"}
    settings = make_settings(**others)
    client = create_app(settings, Client(allowed_hosts=settings.allowed_hosts)).test_client()
    secrets = [key or SECRET_KEY, *others.values()]
    echoed = "your key is Bearer " + " and ".join(secrets)
    fake_openai.push(replies.chat_reply(echoed))
    outs = [out(name) for name in ("RESULT", "RESULT_CONTENT", "RESULT_CONTENTS",
                                   "APP_RESPONSE_CONTENT")]
    keyed = [param("API_KEY", key)] if key else []
    reply = post(client, "OPENAICHAT", param("MODEL", "gpt-4o-mini"), param("USER_MESSAGE", "hi"),
                 *keyed, *outs, fmt=fmt)
    assert reply.status == 200
    assert "your key is Bearer [REDACTED] and [REDACTED]" in reply["RESULT_CONTENT"]
    shown = json.dumps({k: str(v) for k, v in reply.values.items()})
    for secret in secrets:
        assert secret not in shown
        assert json.dumps(secret)[1:-1] not in shown
        assert json.dumps(secret)[1:-1].replace("/", "\\/") not in shown


def test_a_key_hidden_behind_json_escapes_is_redacted_too() -> None:
    from workflowapp.apps.call import redact_secrets

    text = '{"a": "key \\u0073k-hidden-0000 here", "b": 1}'
    redacted = redact_secrets(text, ["sk-hidden-0000"])
    assert "sk-hidden-0000" not in json.dumps(json.loads(redacted), ensure_ascii=False)
    assert json.loads(redacted) == {"a": "key [REDACTED] here", "b": 1}
