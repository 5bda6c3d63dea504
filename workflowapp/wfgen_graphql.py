"""WorkflowGen's GraphQL API: read and update one data of a request (process instance).

OPENAIADDMESSAGE uses it when ``REQUEST_ID``/``REQUEST_DATA_NAME`` name the conversation of
*another* request. The endpoint (``http://<server>/wfgen/graphql``) and the account come from
the settings ``WorkflowGenGraphqlUrl``, ``WorkflowGenUsername`` and ``WorkflowGenPassword``
(HTTP Basic, WorkflowGen's applicative authentication).

Why a small session of its own rather than :class:`workflowapp.upstream.Client`: that client is
made for OpenAI-compatible servers. It sends the API key as ``Authorization: Bearer``/``api-key``,
checks URLs against the allow-list of *model* hosts, retries by OpenAI's policy (429/5xx) and
reads OpenAI's error bodies. WorkflowGen needs Basic credentials, is configured by the
administrator (no allow-list to pass), and a mutation must not be sent twice on a dropped
answer. So this module keeps one pooled :class:`requests.Session`, sends each document once,
follows no redirect (credentials stay on the configured host), and translates failures into
:class:`~workflowapp.errors.UpstreamError` leaves whose messages never hold the password.

The GraphQL documents and the mutation's input are the constants and :func:`update_input`
below: the one place to correct should WorkflowGen's schema differ.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from .errors import (
    ConfigurationError,
    ParameterError,
    UpstreamConnectionError,
    UpstreamTimeout,
    WorkflowGenApiError,
)
from .settings import Settings, declared, refused

#: Reads the data of a request; the text value of each TEXT data comes with its name.
REQUEST_DATA_QUERY = """\
query RequestData($number: Int!) {
  request(number: $number) {
    id
    number
    dataset {
      items {
        __typename
        name
        ... on TextData { textValue }
      }
    }
  }
}
"""

#: Sets data of a request; the input is built by :func:`update_input`.
UPDATE_DATA_MUTATION = """\
mutation UpdateRequestData($input: UpdateRequestDatasetInput!) {
  updateRequestDataset(input: $input) {
    clientMutationId
  }
}
"""

SETTINGS = ("WorkflowGenGraphqlUrl", "WorkflowGenUsername", "WorkflowGenPassword")
#: Seconds to wait for WorkflowGen's answer (the connect timeout is WorkflowAppConnectTimeout).
READ_TIMEOUT = 60.0
_LOG = logging.getLogger("workflowapp.wfgen_graphql")


def update_input(number: int, name: str, text: str) -> dict[str, Any]:
    """The ``updateRequestDataset`` input that sets the TEXT data ``name`` of request ``number``."""
    return {"number": number, "parameters": [{"name": name, "textValue": text}]}


@dataclass(frozen=True)
class GraphqlConfig:
    """Where WorkflowGen's GraphQL API is and how to sign in; the password stays out of repr."""

    url: str
    username: str
    password: str = field(repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = READ_TIMEOUT

    @classmethod
    def from_settings(cls, settings: Settings, *, purpose: str) -> GraphqlConfig:
        """The configuration, or a :class:`ConfigurationError` naming the settings to add."""
        values = {key: settings.get(key) for key in SETTINGS}
        missing = [key for key, value in values.items() if not value]
        if missing:
            raise ConfigurationError(
                f"{purpose} needs WorkflowGen's GraphQL API: add the setting(s) "
                f"{', '.join(missing)} (e.g. WorkflowGenGraphqlUrl = "
                "http://<server>/wfgen/graphql, and the account WorkflowGenUsername / "
                "WorkflowGenPassword) to web.config, .env or the environment."
            )
        url = values["WorkflowGenGraphqlUrl"] or ""
        setting = declared("WorkflowGenGraphqlUrl")
        expected = setting.kind.problem(url) if setting and setting.kind else None
        if expected is not None:  # the start-up check refuses it first
            raise ConfigurationError(refused("WorkflowGenGraphqlUrl", url, expected))
        return cls(url, values["WorkflowGenUsername"] or "", values["WorkflowGenPassword"] or "",
                   connect_timeout=settings.get_float("WorkflowAppConnectTimeout"))


class WorkflowGenGraphql:
    """A client of WorkflowGen's GraphQL API (thread-safe; shares one pooled session)."""

    def __init__(self, config: GraphqlConfig, *, session: requests.Session | None = None,
                 log: logging.Logger | None = None) -> None:
        self.config = config
        self._session = session if session is not None else _shared_session()
        self._log = log or _LOG

    def read_text(self, number: int, name: str) -> str | None:
        """The value of the TEXT data ``name`` of request ``number`` (``None`` when empty).

        :raises ParameterError: no such request (``REQUEST_ID``), or no such TEXT data
            (``REQUEST_DATA_NAME``).
        """
        data = self.execute(REQUEST_DATA_QUERY, {"number": number})
        request = data.get("request")
        if not isinstance(request, dict):
            raise ParameterError(
                f"REQUEST_ID {number}: WorkflowGen has no such request, or the account "
                "WorkflowGenUsername may not see it.", parameter="REQUEST_ID",
            )
        items = _items(request)
        for item in items:
            if item.get("name") == name:
                return _text_value(item, number, name)
        names = ", ".join(str(item.get("name")) for item in items[:20]) or "none"
        raise ParameterError(
            f"REQUEST_DATA_NAME {name!r}: request {number} has no data of that name (its data: "
            f"{names}; names are case-sensitive).", parameter="REQUEST_DATA_NAME",
        )

    def write_text(self, number: int, name: str, text: str) -> None:
        """Set the TEXT data ``name`` of request ``number`` to ``text``."""
        self.execute(UPDATE_DATA_MUTATION, {"input": update_input(number, name, text)})

    def execute(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one GraphQL document; its ``data``, or the translated error."""
        started = time.perf_counter()
        config = self.config
        try:
            answer = self._session.post(
                config.url, json={"query": document, "variables": variables},
                auth=(config.username, config.password),
                headers={"Accept": "application/json"},
                timeout=(config.connect_timeout, config.read_timeout), allow_redirects=False,
            )
        except requests.Timeout:
            raise UpstreamTimeout(
                f"WorkflowGen's GraphQL API ({config.url}) did not answer within "
                f"{config.read_timeout:g} s.", duration_ms=_since(started),
            ) from None
        except requests.RequestException as exc:
            raise UpstreamConnectionError(
                f"Cannot reach WorkflowGen's GraphQL API at {config.url} "
                f"({type(exc).__name__}); check the WorkflowGenGraphqlUrl setting.",
                duration_ms=_since(started),
            ) from None
        duration = _since(started)
        self._log.info("POST %s -> %s in %.0f ms", config.url, answer.status_code, duration)
        return _data(answer, config.url, duration)


@functools.cache
def _shared_session() -> requests.Session:
    """The process's pooled session for WorkflowGen (created on first use)."""
    return requests.Session()


def _data(answer: requests.Response, url: str, duration_ms: float) -> dict[str, Any]:
    """The ``data`` of a GraphQL answer; HTTP errors and ``errors`` arrays raise."""
    status, text = answer.status_code, answer.text
    body = _json(text)
    errors = body.get("errors") if isinstance(body, dict) else None

    def fail(message: str) -> WorkflowGenApiError:
        return WorkflowGenApiError(message, http_status=status, body=text,
                                   duration_ms=duration_ms)

    if errors:
        raise fail(f"WorkflowGen's GraphQL API refused the request: {_messages(errors)}")
    if status in (401, 403):
        raise fail(
            f"WorkflowGen's GraphQL API refused the account WorkflowGenUsername (HTTP {status}); "
            "check the WorkflowGenUsername and WorkflowGenPassword settings."
        )
    if not 200 <= status < 300:
        where = f", redirected to {answer.headers.get('location')}" if 300 <= status < 400 else ""
        raise fail(
            f"WorkflowGen's GraphQL API at {url} answered HTTP {status}{where}; check the "
            "WorkflowGenGraphqlUrl setting."
        )
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise fail(
            f"WorkflowGen's GraphQL API at {url} did not answer a GraphQL JSON document; check "
            "the WorkflowGenGraphqlUrl setting."
        )
    return data


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _messages(errors: Any) -> str:
    """The messages of a GraphQL ``errors`` array, at most three."""
    if not isinstance(errors, list):
        return str(errors)[:300]
    found = [str(e.get("message")) if isinstance(e, dict) else str(e) for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(found) + more


def _items(request: dict[str, Any]) -> list[dict[str, Any]]:
    dataset = request.get("dataset")
    items = dataset.get("items") if isinstance(dataset, dict) else None
    return [item for item in items or () if isinstance(item, dict)]


def _text_value(item: dict[str, Any], number: int, name: str) -> str | None:
    if "textValue" not in item:
        kind = item.get("__typename") or "not TEXT"
        raise ParameterError(
            f"REQUEST_DATA_NAME {name!r}: that data of request {number} is {kind}, not a TEXT "
            "data; the history must be kept in a TEXT data.", parameter="REQUEST_DATA_NAME",
        )
    value = item["textValue"]
    return value if isinstance(value, str) and value else None


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
