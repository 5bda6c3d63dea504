"""The web layer: transports, format mirroring, errors, authentication, limits, headers."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from werkzeug.test import Client as WebClient

from tests.helpers import FORMATS, context, out, param, post, services_of, typed
from workflowapp.context import read_context
from workflowapp.context.model import Format
from workflowapp.events import HttpRejected

ECHO_PARAMS = (param("A", "é & <b> \"q\" 🙂\nline"), out("A_OUT"), param("N", 2.5),
               out("N_OUT", "NUMERIC"))


@pytest.mark.parametrize("fmt", [*FORMATS, Format.RECORDSET])
def test_reply_mirrors_request_format(client: WebClient, fmt: Format) -> None:
    reply = post(client, "ECHO", *ECHO_PARAMS, fmt=fmt)
    assert reply.status == 200
    assert reply["A_OUT"] == "é & <b> \"q\" 🙂\nline"
    assert reply["N_OUT"] == 2.5
    assert reply["A"] == reply["A_OUT"], "IN parameters are echoed"
    expected = "application/json" if fmt is Format.JSON else "application/xml"
    assert reply.content_type == f"{expected}; charset=utf-8"


def test_urlencoded_field_whatever_its_name(client: WebClient) -> None:
    body = context(*ECHO_PARAMS).decode()
    response = client.post("/echo", data={"other": "x", "WFGEN_CONTEXT": body})
    assert response.status_code == 200
    values = {p.name: p.value for p in read_context(response.get_data())}
    assert values["A_OUT"] == "é & <b> \"q\" 🙂\nline"


@pytest.mark.parametrize("as_file", [False, True])
def test_multipart_field_or_file_part(client: WebClient, as_file: bool) -> None:
    body = context(*ECHO_PARAMS, fmt=Format.JSON)
    data: dict[str, object] = {"note": "not a context"}
    data["ctx"] = (io.BytesIO(body), "context.json") if as_file else body.decode()
    response = client.post("/ECHO", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.content_type.startswith("application/json")
    assert json.loads(response.get_data())["parameters"][1]["textValue"].startswith("é")


def test_raw_xml_sent_with_a_form_content_type_is_still_found(client: WebClient) -> None:
    response = client.post("/echo", data=context(*ECHO_PARAMS),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200


def test_app_names_are_case_insensitive(client: WebClient) -> None:
    assert post(client, "eChO", *ECHO_PARAMS).status == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"hello", "no WorkflowGen context"),
        (b"<NewDataSet><parameter>", "XML"),
        (b'{"parameters": [', "JSON"),
        (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         b"<NewDataSet><parameter><name>&x;</name></parameter></NewDataSet>", "DTD"),
        (b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
         b"<NewDataSet><parameter><name>&b;</name></parameter></NewDataSet>", "DTD"),
    ],
)
def test_unreadable_contexts_are_400_with_a_plain_message(
    client: WebClient, body: bytes, fragment: str
) -> None:
    response = client.post("/ECHO", data=body, content_type="application/xml")
    assert response.status_code == 400
    assert response.content_type == "text/plain; charset=utf-8"
    text = response.get_data(as_text=True)
    assert fragment.lower() in text.lower()
    assert "Traceback" not in text and "root:" not in text
    assert response.headers["X-WorkflowApp-Error"] == "invalid_context"


def test_duplicate_parameter_is_named(client: WebClient) -> None:
    xml = (b"<NewDataSet>" + b"<parameter><name>DUP</name><dataType>TEXT</dataType>"
           b"<direction>IN</direction></parameter>" * 2 + b"</NewDataSet>")
    response = client.post("/ECHO", data=xml)
    assert response.status_code == 400
    assert "DUP" in response.get_data(as_text=True)


def test_unknown_application_is_404_listing_the_known_ones(client: WebClient) -> None:
    reply = post(client, "NOPE", *ECHO_PARAMS)
    assert reply.status == 404
    assert "OPENAICHAT" in reply.text and "ECHO" in reply.text


def test_body_over_the_limit_is_413_before_parsing(
    make_client: Callable[..., WebClient],
) -> None:
    client = make_client(WorkflowAppMaxRequestBytes="200")
    response = client.post("/ECHO", data=b"<" + b"x" * 500)
    assert response.status_code == 413
    assert "200 bytes" in response.get_data(as_text=True)


def test_per_application_limit(make_client: Callable[..., WebClient]) -> None:
    client = make_client(EchoMaxRequestBytes="100")
    assert post(client, "ECHO", *ECHO_PARAMS).status == 413


def test_get_on_an_application_is_405_plain_text(client: WebClient) -> None:
    response = client.get("/ECHO")
    assert response.status_code == 405
    assert response.content_type.startswith("text/plain")


def test_security_headers_on_every_response(client: WebClient) -> None:
    for response in (client.get("/healthz"), client.get("/apps"), client.post("/ECHO", data=b"")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


def test_healthz(client: WebClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True).strip() == "ok"


def test_manifest_lists_every_application(client: WebClient) -> None:
    document = client.get("/apps").get_json()
    names = [app["name"] for app in document["apps"]]
    assert "OPENAICHAT" in names and "ECHO" in names
    chat = client.get("/apps/openaichat").get_json()
    model = next(p for p in chat["parameters"] if p["name"] == "MODEL")
    assert model == {"name": "MODEL", "type": "TEXT", "direction": "IN", "required": True,
                     "default": None, "description": model["description"]}
    assert client.get("/apps/nothing").status_code == 404


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_authentication_when_configured(make_client: Callable[..., WebClient]) -> None:
    client = make_client(WorkflowAppUsername="wfgen", WorkflowAppPassword="s3cret-pass")
    denied = post(client, "ECHO", *ECHO_PARAMS)
    assert denied.status == 401
    assert "s3cret-pass" not in denied.text
    assert post(client, "ECHO", *ECHO_PARAMS, headers=_basic("wfgen", "wrong")).status == 401
    assert post(client, "ECHO", *ECHO_PARAMS, headers={"Authorization": "Basic !!"}).status == 401
    assert post(client, "ECHO", *ECHO_PARAMS, headers=_basic("wfgen", "s3cret-pass")).status == 200
    assert client.get("/healthz").status_code == 200, "health check is exempt"
    assert client.get("/apps").status_code == 401
    response = client.post("/ECHO", data=b"")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_unusual_session_names_are_echoed(client: WebClient) -> None:
    xml = (b"<NewDataSet><parameter><name>A</name><dataType>TEXT</dataType><direction>IN"
           b"</direction><textValue>x</textValue></parameter><session><xmlThing>1</xmlThing>"
           b"<ns:custom xmlns:ns='urn:x'>2</ns:custom></session></NewDataSet>")
    response = client.post("/ECHO", data=xml)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert read_context(response.get_data()).session == {"xmlThing": "1", "custom": "2"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_utf16_bodies_are_read_as_the_context_reader_reads_them(
    client: WebClient, encoding: str, fmt: Format
) -> None:
    """With a BOM (utf-16) or without one (NUL-interleaved): what read_context accepts."""
    body = context(param("A", "é x"), out("A_OUT"), fmt=fmt).decode("utf-8")
    response = client.post("/ECHO", data=body.encode(encoding),
                           content_type="application/xml; charset=utf-16")
    assert response.status_code == 200, response.get_data(as_text=True)
    reply = read_context(response.get_data())
    assert reply.format is fmt and reply.parameters["A_OUT"].value == "é x"


# --- refusals: logged, limited, reported as events -------------------------------------------


def _events(client: WebClient) -> list[object]:
    seen: list[object] = []
    services_of(client).events.subscribe(seen.append)
    return seen


def test_auth_failures_are_logged_limited_and_reported(
    make_client: Callable[..., WebClient], tmp_path: Path
) -> None:
    client = make_client(WorkflowAppUsername="wfgen", WorkflowAppPassword="s3cret-pass",
                         WorkflowAppAuthFailureLimit="3", WorkflowAppLogLevel="1")
    seen = _events(client)
    guesser = {"REMOTE_ADDR": "10.1.2.3"}
    for guess in ("a", "b", "s3cret-pas"):
        response = client.post("/ECHO", data=b"<x/>", headers=_basic("wfgen", guess),
                               environ_base=guesser)
        assert response.status_code == 401
    limited = client.post("/ECHO", data=context(*ECHO_PARAMS),
                          headers=_basic("wfgen", "s3cret-pass"), environ_base=guesser)
    assert limited.status_code == 429  # even the right password, until the minute is over
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    other = client.post("/ECHO", data=context(*ECHO_PARAMS),
                        headers=_basic("wfgen", "s3cret-pass"),
                        environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200, "the limit is per client address"
    rejected = [e for e in seen if isinstance(e, HttpRejected)]
    assert rejected == [HttpRejected(401, "10.1.2.3")] * 3 + [HttpRejected(429, "10.1.2.3")]
    log = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert log.count("ERROR workflowapp.host") >= 3 and "from 10.1.2.3" in log
    assert "s3cret-pas" not in log and "wfgen:" not in log


def test_refusals_before_any_application_runs_are_events(
    make_client: Callable[..., WebClient]
) -> None:
    client = make_client(WorkflowAppMaxRequestBytes="100")
    seen = _events(client)
    assert client.post("/NOSUCHAPP", data=b"<x/>").status_code == 404
    assert client.post("/ECHO", data=b"<" + b"x" * 200 + b"/>").status_code == 413
    assert client.post("/ECHO", data=b"no context").status_code == 400  # no event
    assert [e.status for e in seen if isinstance(e, HttpRejected)] == [404, 413]


def test_a_body_timeout_is_408_closing_the_connection_and_an_event(
    client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal itself (the timing is tested against gunicorn in test_served.py)."""
    from workflowapp import body
    from workflowapp.errors import BodyTimeout

    def too_slow(seconds: float, request: object, limit: int) -> bytes:
        raise BodyTimeout(f"The request body took longer than {seconds:g} s to arrive.")

    monkeypatch.setattr(body, "_read_within", too_slow)
    seen = _events(client)
    response = client.post("/ECHO", data=context(*ECHO_PARAMS))
    assert response.status_code == 408
    assert response.headers["Connection"] == "close"
    assert response.headers["X-WorkflowApp-Error"] == "body_timeout"
    assert typed(seen) == typed([HttpRejected(408, "127.0.0.1")])
