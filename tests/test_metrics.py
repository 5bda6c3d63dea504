"""GET /metrics: Prometheus text counted from the host's events, nothing else."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client as WebClient

from tests.fakes.openai_fake import FakeOpenAI, chat_reply, rate_limit_reply
from tests.helpers import SECRET_KEY, out, param, post
from workflowapp.events import CallEnded, CallStarted, HttpRejected, UpstreamAttempt, UpstreamRetry
from workflowapp.metrics import NAMES, Metrics


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client: WebClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]],
                                                          float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


def test_calls_are_counted_by_app_outcome_and_code(client: WebClient) -> None:
    assert post(client, "ECHO", param("A", "x"), out("A_OUT")).status == 200
    assert post(client, "OPENAIMODERATION", param("MODEL", "m")).status == 400
    assert post(client, "OPENAIMODERATION", param("MODEL", "m"),
                param("APP_RESPONSE_IGNORE_ERROR", "Y")).status == 200
    found = scrape(client)
    assert found[("workflowapp_calls_total", (("app", "ECHO"), ("code", "ok"),
                                              ("outcome", "ok")))] == 1
    assert found[("workflowapp_calls_total", (("app", "OPENAIMODERATION"),
                                              ("code", "missing_parameter"),
                                              ("outcome", "error")))] == 1
    assert found[("workflowapp_calls_total", (("app", "OPENAIMODERATION"),
                                              ("code", "missing_parameter"),
                                              ("outcome", "ignored_error")))] == 1
    assert found[("workflowapp_call_duration_seconds_count",
                  (("app", "OPENAIMODERATION"),))] == 2
    assert found[("workflowapp_in_flight_calls", (("app", "ECHO"),))] == 0


def test_every_event_type_reaches_its_metric() -> None:
    metrics = Metrics()
    metrics(CallStarted("OPENAICHAT"))
    metrics(UpstreamAttempt("openai", 429))
    metrics(UpstreamRetry("openai", "429"))
    metrics(UpstreamAttempt("openai", None))
    metrics(UpstreamAttempt("openai", 200))
    metrics(CallEnded("OPENAICHAT", "ok", "ok", 200, 2.5, upstream_status=200, retries=1,
                      provider="openai", model="gpt-4o-mini",
                      tokens={"prompt": 10, "completion": 5, "cached": 0}))
    metrics(CallStarted("OPENAICHAT"))
    for status in (401, 404, 413, 401):
        metrics(HttpRejected(status))
    body, _ = metrics.render()
    found = samples(body.decode())
    assert found[("workflowapp_upstream_requests_total", (("provider", "openai"),
                                                          ("status", "429")))] == 1
    assert found[("workflowapp_upstream_requests_total", (("provider", "openai"),
                                                          ("status", "none")))] == 1
    assert found[("workflowapp_upstream_retries_total", (("provider", "openai"),
                                                         ("reason", "429")))] == 1
    token = (("app", "OPENAICHAT"), ("kind", "prompt"), ("model", "gpt-4o-mini"),
             ("provider", "openai"))
    assert found[("workflowapp_tokens_total", token)] == 10
    assert not any(name == "workflowapp_tokens_total" and ("kind", "cached") in labels
                   for name, labels in found), "zero counts add no series"
    assert found[("workflowapp_in_flight_calls", (("app", "OPENAICHAT"),))] == 1
    assert found[("workflowapp_http_rejections_total", (("status", "401"),))] == 2
    assert found[("workflowapp_call_duration_seconds_bucket", (("app", "OPENAICHAT"),
                                                               ("le", "5.0")))] == 1
    exported = {re.sub(r"_(bucket|count|sum|created)$", "", name) for name, _ in found}
    assert {re.sub(r"_total$", "", n) for n in NAMES} <= {re.sub(r"_total$", "", n)
                                                          for n in exported}


def test_metrics_take_the_same_credentials_as_apps(make_client: Callable[..., WebClient]
                                                   ) -> None:
    client = make_client(WorkflowAppUsername="wfgen", WorkflowAppPassword="pw-metrics-1")
    assert client.get("/metrics").status_code == 401
    token = base64.b64encode(b"wfgen:pw-metrics-1").decode()
    scrape(client, Authorization=f"Basic {token}")


def test_metrics_can_be_turned_off(make_client: Callable[..., WebClient]) -> None:
    client = make_client(WorkflowAppMetrics="off")
    assert client.get("/metrics").status_code in (404, 405)
    assert post(client, "ECHO", param("A", "x")).status == 200


def test_no_secret_or_content_in_the_metrics(client: WebClient) -> None:
    post(client, "ECHO", param("API_KEY", SECRET_KEY), param("A", "confidential-text"))
    text = client.get("/metrics").get_data(as_text=True)
    assert SECRET_KEY not in text and "confidential-text" not in text


def test_upstream_attempts_retries_and_tokens_end_to_end(
    client: WebClient, fake_openai: FakeOpenAI
) -> None:
    """The client's events and the call's figures reach /metrics: a 429, its retry, the 200
    and the usage the answer reported (a loopback URL: provider ``compatible``)."""
    fake_openai.push(rate_limit_reply(retry_after=0), chat_reply("Hi", usage=(12, 3, 15)))
    reply = post(client, "OPENAICHAT", param("MODEL", "gpt-4o-mini"),
                 param("USER_MESSAGE", "Hello"), out("RESULT_CONTENT"))
    assert reply.status == 200
    found = scrape(client)
    assert found[("workflowapp_upstream_requests_total", (("provider", "compatible"),
                                                          ("status", "429")))] == 1
    assert found[("workflowapp_upstream_requests_total", (("provider", "compatible"),
                                                          ("status", "200")))] == 1
    assert found[("workflowapp_upstream_retries_total", (("provider", "compatible"),
                                                         ("reason", "429")))] == 1
    tokens = {labels: value for (name, labels), value in found.items()
              if name == "workflowapp_tokens_total"}
    assert tokens[(("app", "OPENAICHAT"), ("kind", "prompt"), ("model", "gpt-4o-mini"),
                   ("provider", "compatible"))] == 12
    assert tokens[(("app", "OPENAICHAT"), ("kind", "completion"), ("model", "gpt-4o-mini"),
                   ("provider", "compatible"))] == 3
