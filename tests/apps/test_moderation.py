"""OPENAIMODERATION end to end: contexts -> Flask app -> loopback fake OpenAI -> reply."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.fakes import replies
from tests.fakes.server import FakeOpenAI
from tests.helpers import FORMATS, SECRET_KEY, Reply, out, param, post
from workflowapp.context.model import Format

OUTS = (out("FLAGGED"), out("FLAGGED_CATEGORIES"), out("CATEGORY_SCORES"), out("RESULT"),
        out("APP_RESPONSE_STATUS"), out("APP_RESPONSE_CONTENT"), out("RESULT_RETRIES", "NUMERIC"),
        out("RESULT_REQUEST_ID"))


def moderate(client: WebClient, *params: Any, fmt: Format = Format.DATASET) -> Reply:
    return post(client, "OPENAIMODERATION", *params, *OUTS, fmt=fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_flagged_text(client: WebClient, fake_openai: FakeOpenAI, fmt: Format) -> None:
    fake_openai.push(replies.moderation_reply(scores={"harassment": 0.7, "violence": 0.95,
                                                      "hate": 0.6}))
    reply = moderate(client, param("TEXT", "I will hurt you"), param("API_KEY", SECRET_KEY),
                     fmt=fmt)
    assert reply.status == 200, reply.text
    assert reply["FLAGGED"] == "true"
    assert reply["FLAGGED_CATEGORIES"] == "violence,harassment,hate"
    result = json.loads(reply["RESULT"])
    assert json.loads(reply["CATEGORY_SCORES"]) == result["results"][0]["category_scores"]
    assert reply["APP_RESPONSE_STATUS"] == "200"
    assert reply["RESULT_RETRIES"] == 0
    assert reply["RESULT_REQUEST_ID"]
    assert reply["API_KEY"] is None and SECRET_KEY not in reply.text
    body = fake_openai.requests_for("moderations")[-1].json
    assert body == {"model": "omni-moderation-latest", "input": "I will hurt you"}
    fake_openai.assert_secret_only_in_auth(SECRET_KEY)


@pytest.mark.parametrize("fmt", FORMATS)
def test_clean_text(client: WebClient, fake_openai: FakeOpenAI, fmt: Format) -> None:
    fake_openai.push(replies.moderation_reply(flagged=False))
    reply = moderate(client, param("TEXT", "Good morning"), fmt=fmt)
    assert reply["FLAGGED"] == "false"
    assert reply["FLAGGED_CATEGORIES"] is None
    assert len(json.loads(reply["CATEGORY_SCORES"])) == 13


def test_null_category_flags_and_model(client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.moderation_reply(
        categories=["hate"], null_categories=["illicit", "illicit/violent"]))
    reply = moderate(client, param("TEXT", "x"), param("MODEL", "text-moderation-latest"))
    assert reply.status == 200, reply.text
    assert reply["FLAGGED"] == "true"
    assert reply["FLAGGED_CATEGORIES"] == "hate"
    assert fake_openai.last_request.json["model"] == "text-moderation-latest"


def test_equal_scores_are_ordered_by_name(client: WebClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.push(replies.moderation_reply(categories=["violence", "hate", "sexual"]))
    reply = moderate(client, param("TEXT", "x"))
    assert reply["FLAGGED_CATEGORIES"] == "hate,sexual,violence"


def test_url_setting_and_parameter(make_client: Callable[..., WebClient],
                                   fake_openai: FakeOpenAI) -> None:
    client = make_client(OpenAIModerationApiUrl=f"{fake_openai.base_url}/moderations")
    assert moderate(client, param("TEXT", "x")).status == 200
    reply = moderate(client, param("TEXT", "x"), param("URL", "https://evil.example/v1/x"))
    assert reply.status == 400 and "WorkflowAppAllowedHosts" in reply.text
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_upstream_error_status_and_body(client: WebClient, fake_openai: FakeOpenAI,
                                        fmt: Format) -> None:
    error = replies.openai_error(401, "Incorrect API key provided.", code="invalid_api_key")
    fake_openai.push(error)
    failed = moderate(client, param("TEXT", "x"), param("API_KEY", SECRET_KEY), fmt=fmt)
    assert failed.status == 502 and "401" in failed.text
    assert SECRET_KEY not in failed.text
    fake_openai.push(error)
    ignored = moderate(client, param("TEXT", "x"), param("API_KEY", SECRET_KEY),
                       param("APP_RESPONSE_IGNORE_ERROR", "Y"), fmt=fmt)
    assert ignored.status == 200
    assert ignored["APP_RESPONSE_STATUS"] == "401"
    assert json.loads(ignored["APP_RESPONSE_CONTENT"])["error"]["code"] == "invalid_api_key"
    assert ignored["FLAGGED"] is None
    assert SECRET_KEY not in ignored.text


@pytest.mark.parametrize("ignore", [False, True])
def test_timeout_is_504(client: WebClient, fake_openai: FakeOpenAI, ignore: bool) -> None:
    fake_openai.push(replies.delay_reply(3.0))
    reply = moderate(client, param("TEXT", "x"), param("TIMEOUT", 1), param("MAX_RETRIES", 0),
                     param("APP_RESPONSE_IGNORE_ERROR", "Y" if ignore else "N"))
    if ignore:
        assert reply.status == 200
        assert reply["APP_RESPONSE_STATUS"] == "timeout"
    else:
        assert reply.status == 504


@pytest.mark.parametrize("body", [
    {"id": "modr-1", "model": "omni-moderation-latest", "results": []},
    {"id": "modr-1"},
])
def test_answer_without_results_is_502(client: WebClient, fake_openai: FakeOpenAI,
                                       body: dict[str, Any]) -> None:
    fake_openai.push(replies.json_reply(body))
    reply = moderate(client, param("TEXT", "x"))
    assert reply.status == 502
    assert "no results" in reply.text


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_text_and_key(make_client: Callable[..., WebClient], fake_openai: FakeOpenAI,
                              fmt: Format) -> None:
    client = make_client(OpenAIApiKey="")
    missing_text = moderate(client, fmt=fmt)
    assert missing_text.status == 400 and "Parameter TEXT is required" in missing_text.text
    missing_key = moderate(client, param("TEXT", "x"), param("APP_RESPONSE_IGNORE_ERROR", "Y"),
                           param("PROVIDER", "openai"),
                           fmt=fmt)
    assert missing_key["APP_RESPONSE_STATUS"] == "missing_api_key"
    assert "OpenAIApiKey" in missing_key["APP_RESPONSE_CONTENT"]
    assert fake_openai.requests == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_404_names_the_endpoint(client: WebClient, fake_openai: FakeOpenAI, sleeps: list[float],
                                fmt: Format) -> None:
    # A compatible server without /moderations (llama.cpp, Ollama, vLLM): a 404 from the route.
    not_found = replies.error_reply(404, replies.error_body("File Not Found", "not_found_error"))
    fake_openai.push(not_found, not_found, endpoint="moderations")
    failed = moderate(client, param("TEXT", "x"), fmt=fmt)
    assert failed.status == 502
    assert fake_openai.moderations_url in failed.text
    assert "may not offer this API" in failed.text
    assert len(fake_openai.requests_for("moderations")) == 1 and sleeps == []
    ignored = moderate(client, param("TEXT", "x"), param("APP_RESPONSE_IGNORE_ERROR", "Y"),
                       fmt=fmt)
    assert ignored.status == 200
    assert ignored["APP_RESPONSE_STATUS"] == "404"
    assert ignored["FLAGGED"] is None
