"""OPENAIMODERATION: Qflow's "Moderate content" action, as a WorkflowGen application.

``TEXT`` goes to OpenAI's moderations endpoint with ``model`` always sent (so the answer does
not change when OpenAI changes its default). The first result fills ``FLAGGED``, the flagged
categories from the highest score down, and the scores. Legacy text models answer ``null`` for
some category flags (``illicit``...): such a category counts as not flagged.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadUpstreamAnswer
from ..settings import fallback
from .call import Call
from .registry import (
    API_KEY,
    COMMON,
    IN,
    OUT,
    PROVIDER,
    TEXT,
    UPSTREAM_COMMON,
    App,
    Param,
    register,
)

DEFAULT_URL = fallback("OpenAIModerationApiUrl")
DEFAULT_MODEL = "omni-moderation-latest"

PARAMS = (
    Param("TEXT", TEXT, IN, "The text to moderate.", required=True),
    Param("MODEL", TEXT, IN, "Moderation model (always sent).", default=DEFAULT_MODEL),
    API_KEY,
    Param("URL", TEXT, IN, "Full moderations endpoint; default: setting "
          f"OpenAIModerationApiUrl, else {DEFAULT_URL}."),
    PROVIDER,
    *COMMON,
    *UPSTREAM_COMMON,
    Param("FLAGGED", TEXT, OUT, "true if the text was flagged, else false."),
    Param("FLAGGED_CATEGORIES", TEXT, OUT,
          "The flagged categories, comma-separated, highest score first (no value when none)."),
    Param("CATEGORY_SCORES", TEXT, OUT, "JSON object: category -> score."),
    Param("RESULT", TEXT, OUT, "The upstream response, as received."),
)


def run(call: Call) -> None:
    """Send the text, then fill the outputs from the first result."""
    body = {"model": call.text("MODEL") or DEFAULT_MODEL, "input": call.text("TEXT")}
    endpoint = call.endpoint("OpenAIModerationApiUrl", DEFAULT_URL)
    response = call.services.client.post_json(
        endpoint.url, body, api_key=endpoint.api_key, provider=endpoint.provider,
        options=endpoint.options, log=call.log,
    )
    call.record(response)
    result = first_result(response.data, response.text)
    scores = _scores(result)
    flagged = flagged_categories(result, scores)
    verdict = result.get("flagged")
    is_flagged = verdict if isinstance(verdict, bool) else bool(flagged)
    call.set("FLAGGED", "true" if is_flagged else "false")
    call.set("FLAGGED_CATEGORIES", ",".join(flagged) or None)
    raw_scores = result.get("category_scores")
    call.set("CATEGORY_SCORES", raw_scores if isinstance(raw_scores, dict) else None)
    call.set("RESULT", response.text)


def first_result(data: Any, text: str) -> dict[str, Any]:
    """``results[0]`` of a moderation answer, or :class:`BadUpstreamAnswer`."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise BadUpstreamAnswer("The moderation answer has no results.", http_status=200,
                                body=text)
    result: dict[str, Any] = results[0]
    return result


def flagged_categories(result: dict[str, Any], scores: dict[str, float]) -> list[str]:
    """Categories whose flag is ``true`` (``null`` is not), highest score first, then by name."""
    categories = result.get("categories")
    if not isinstance(categories, dict):
        return []
    flagged = [name for name, value in categories.items() if value is True]
    return sorted(flagged, key=lambda name: (-scores.get(name, 0.0), name))


def _scores(result: dict[str, Any]) -> dict[str, float]:
    scores = result.get("category_scores")
    if not isinstance(scores, dict):
        return {}
    return {name: float(value) for name, value in scores.items()
            if isinstance(value, int | float) and not isinstance(value, bool)}


OPENAIMODERATION = register(
    App(
        name="OPENAIMODERATION",
        description="Moderates a text with OpenAI's moderation models (Qflow's \"Moderate "
        "content\"): flagged or not, the flagged categories and the scores.",
        params=PARAMS,
        log_setting="OpenAIModerationLogLevel",
        run=run,
    )
)
