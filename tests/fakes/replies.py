"""Scripted answers of the fake: a :class:`Reply` value and builders for schema-valid bodies.

The success builders validate their body against the response schema when it is built (when
the spec folder is available), so a wrong fixture raises :class:`InvalidReply` in the test
that writes it. The server validates again after adapting the body to the request.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from tests.fakes.records import RecordedRequest
from tests.fakes.spec import check_reply, load_spec

__all__ = [
    "CATEGORIES",
    "IMAGE_CATEGORIES",
    "Reply",
    "ReplyLike",
    "azure_content_filter_reply",
    "chat_choice",
    "chat_reply",
    "context_length_reply",
    "delay_reply",
    "drop_reply",
    "error_reply",
    "html_error_reply",
    "insufficient_quota_reply",
    "json_reply",
    "llamacpp_error_reply",
    "moderation_reply",
    "moderation_result",
    "openai_error",
    "rate_limit_reply",
    "raw_reply",
    "tool_call",
    "transcription_reply",
    "unsupported_parameter_reply",
    "unsupported_value_reply",
]

CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
)
IMAGE_CATEGORIES = frozenset({
    "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence",
    "violence/graphic",
})
DEFAULT_CHAT_MODEL = "gpt-4o-mini"
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"

Adapt = Callable[[Any, RecordedRequest], Any]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``body``: dict/list → JSON, ``str``/``bytes`` → sent as is. ``kind`` (``chat``,
    ``moderations``, ``transcriptions``) names the endpoint it is meant for and the response
    schema it must match; ``None`` for faults and deliberately off-spec bodies. ``adapt``
    reshapes a copy of the body for the request (echo the model, ``n`` choices, response
    format). ``use_default`` serves the endpoint's default answer with this reply's ``delay``,
    ``drop`` and ``headers``. ``drop`` sends the headers with a ``Content-Length`` larger
    than what is written, then closes the connection.
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    kind: str | None = None
    content_type: str | None = None
    adapt: Adapt | None = None
    use_default: bool = False

    def with_(self, **changes: Any) -> Reply:
        """A copy with some fields changed (``reply.with_(delay=3)``)."""
        return replace(self, **changes)

    def body_for(self, request: RecordedRequest) -> Any:
        """The body to send for ``request`` (adapted copy when ``adapt`` is set)."""
        if self.adapt is None:
            return self.body
        return self.adapt(copy.deepcopy(self.body), request)


ReplyLike = Reply | Callable[[RecordedRequest], "Reply | None"]
"""What :meth:`FakeOpenAI.push` accepts: a reply, or ``f(recorded_request) -> reply | None``
(``None`` = the default answer)."""


class _Unset(Enum):
    UNSET = 0


_UNSET = _Unset.UNSET
_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    return f"{prefix}-fake{next(_ids):06d}"


def _validated(reply: Reply, *bodies: tuple[str, Any, str]) -> Reply:
    spec, _ = load_spec()
    for kind, body, response_format in bodies:
        check_reply(kind, body, spec, response_format)
    return reply


# -- chat ------------------------------------------------------------------------------------


ToolCallSpec = tuple[str, Mapping[str, Any] | str] | tuple[str, Mapping[str, Any] | str, str]


def tool_call(name: str, arguments: Mapping[str, Any] | str = "{}",
              call_id: str | None = None) -> dict[str, Any]:
    """A function tool call; ``arguments`` as a dict (JSON-encoded) or a raw string."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id or _new_id("call"), "type": "function",
            "function": {"name": name, "arguments": text}}


def chat_choice(content: str | None | _Unset = _UNSET, *,
                tool_calls: Sequence[ToolCallSpec | Mapping[str, Any]] | None = None,
                finish_reason: str | None = None, refusal: str | None = None,
                logprobs: Mapping[str, Any] | None = None, index: int = 0) -> dict[str, Any]:
    """One choice. ``content`` defaults to ``"Hello!"``, or ``None`` with tool calls/refusal;
    ``finish_reason`` to ``tool_calls`` with tool calls, else ``stop``."""
    if content is _UNSET:
        content = None if tool_calls or refusal is not None else "Hello!"
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal,
                               "annotations": []}
    if tool_calls:
        message["tool_calls"] = [
            dict(call) if isinstance(call, Mapping) else tool_call(*call) for call in tool_calls
        ]
    reason = finish_reason or ("tool_calls" if tool_calls else "stop")
    return {"index": index, "message": message, "finish_reason": reason,
            "logprobs": dict(logprobs) if logprobs is not None else None}


def _usage(usage: tuple[int, int, int] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(usage, Mapping):
        return dict(usage)
    prompt, completion, total = usage
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


def _adapt_chat(echo_model: bool, n_from_request: bool) -> Adapt:
    def adapt(body: Any, request: RecordedRequest) -> Any:
        if echo_model:
            body["model"] = request.model or DEFAULT_CHAT_MODEL
        n = request.json.get("n") if isinstance(request.json, dict) else None
        if n_from_request and isinstance(n, int) and n > 1:
            first = body["choices"][0]
            body["choices"] = [{**copy.deepcopy(first), "index": i} for i in range(n)]
        return body
    return adapt


def _chat(content: str | None | _Unset = _UNSET, *,
          tool_calls: Sequence[ToolCallSpec | Mapping[str, Any]] | None = None,
          choices: Sequence[str | Mapping[str, Any]] | None = None,
          n_from_request: bool = False, finish_reason: str | None = None,
          refusal: str | None = None,
          usage: tuple[int, int, int] | Mapping[str, Any] | None = (10, 5, 15),
          model: str | None = None, logprobs: Mapping[str, Any] | None = None,
          extra: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
          delay: float = 0.0) -> Reply:
    if choices is not None and (n_from_request or tool_calls or content is not _UNSET):
        raise ValueError("give either choices=[...] or a single choice's fields")
    if choices is None:
        built = [chat_choice(content, tool_calls=tool_calls, finish_reason=finish_reason,
                             refusal=refusal, logprobs=logprobs)]
    else:
        built = [{**(chat_choice(c) if isinstance(c, str) else dict(c)), "index": i}
                 for i, c in enumerate(choices)]
    body: dict[str, Any] = {
        "id": _new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
        "model": model or DEFAULT_CHAT_MODEL, "choices": built, "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    if usage is not None:
        body["usage"] = _usage(usage)
    body.update(extra or {})
    adapt = _adapt_chat(model is None, n_from_request) if model is None or n_from_request else None
    return Reply(body=body, kind="chat", headers=dict(headers or {}), delay=delay, adapt=adapt)


def chat_reply(content: str | None | _Unset = _UNSET, *,
               tool_calls: Sequence[ToolCallSpec | Mapping[str, Any]] | None = None,
               choices: Sequence[str | Mapping[str, Any]] | None = None,
               n_from_request: bool = False, finish_reason: str | None = None,
               refusal: str | None = None,
               usage: tuple[int, int, int] | Mapping[str, Any] | None = (10, 5, 15),
               model: str | None = None, logprobs: Mapping[str, Any] | None = None,
               extra: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
               delay: float = 0.0) -> Reply:
    """A chat completion (schema-checked now and when served).

    :param content: assistant text (default ``"Hello!"``; ``None`` with tool calls/refusal).
    :param tool_calls: ``(name, args)`` or ``(name, args, call_id)``; ``args`` a dict, or a raw
        string to script invalid JSON arguments; or ready tool-call dicts.
    :param choices: several choices (``n > 1``): content strings or :func:`chat_choice` dicts.
    :param n_from_request: answer as many copies of the choice as the request's ``n``.
    :param usage: ``(prompt, completion, total)``, a full ``usage`` dict, or ``None`` to omit.
    :param model: fixed ``model``; by default the request's model (or deployment) is echoed.
    :param extra: extra top-level keys (e.g. Azure ``prompt_filter_results``).
    """
    reply = _chat(content, tool_calls=tool_calls, choices=choices, n_from_request=n_from_request,
                  finish_reason=finish_reason, refusal=refusal, usage=usage, model=model,
                  logprobs=logprobs, extra=extra, headers=headers, delay=delay)
    return _validated(reply, ("chat", reply.body, "json"))


# -- moderations -----------------------------------------------------------------------------


def moderation_result(flagged: bool | None = None, *, categories: Iterable[str] = (),
                      scores: Mapping[str, float] | None = None,
                      null_categories: Iterable[str] = (),
                      input_types: Sequence[str] = ("text",)) -> dict[str, Any]:
    """One moderation result with all 13 categories.

    Flagged categories are ``categories`` plus those scored ≥ 0.5; a flagged category scores 0.9
    unless given. ``flagged`` defaults to "any category flagged"; ``flagged=True`` alone flags
    ``violence``. ``null_categories`` (legacy text models: ``illicit``, ``illicit/violent``)
    are ``null`` in ``categories``.
    """
    scores = dict(scores or {})
    chosen = set(categories)
    nulls = set(null_categories)
    unknown = (chosen | set(scores) | nulls) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown moderation categories: {sorted(unknown)}")
    chosen |= {name for name, score in scores.items() if score >= 0.5}
    if flagged and not chosen:
        chosen = {"violence"}
    return {
        "flagged": bool(chosen) if flagged is None else flagged,
        "categories": {c: None if c in nulls else c in chosen for c in CATEGORIES},
        "category_scores": {c: scores.get(c, 0.9 if c in chosen else 0.0001) for c in CATEGORIES},
        "category_applied_input_types": {
            c: [t for t in input_types if t == "text" or c in IMAGE_CATEGORIES]
            for c in CATEGORIES
        },
    }


def _adapt_moderation(echo_model: bool, per_input: bool) -> Adapt:
    def adapt(body: Any, request: RecordedRequest) -> Any:
        data = request.json if isinstance(request.json, dict) else {}
        if echo_model:
            model = data.get("model")
            body["model"] = model if isinstance(model, str) else DEFAULT_MODERATION_MODEL
        inputs = data.get("input")
        if not per_input or not isinstance(inputs, list) or not inputs:
            return body
        template = body["results"][0]
        if all(isinstance(item, str) for item in inputs):
            body["results"] = [copy.deepcopy(template) for _ in inputs]
        else:  # multimodal parts are classified together: one result
            kinds = {"image" if isinstance(item, dict) and item.get("type") == "image_url"
                     else "text" for item in inputs}
            template["category_applied_input_types"] = {
                c: sorted(t for t in kinds if t == "text" or c in IMAGE_CATEGORIES)
                for c in CATEGORIES
            }
        return body
    return adapt


def _moderation(flagged: bool | None = None, *, categories: Iterable[str] = (),
                scores: Mapping[str, float] | None = None, null_categories: Iterable[str] = (),
                results: Sequence[Mapping[str, Any]] | None = None, model: str | None = None,
                headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    if results is None:
        items = [moderation_result(flagged, categories=categories, scores=scores,
                                   null_categories=null_categories)]
    else:
        items = [dict(r) for r in results]
    body = {"id": _new_id("modr"), "model": model or DEFAULT_MODERATION_MODEL, "results": items}
    adapt = _adapt_moderation(model is None, results is None)
    return Reply(body=body, kind="moderations", headers=dict(headers or {}), delay=delay,
                 adapt=adapt)


def moderation_reply(flagged: bool | None = None, *, categories: Iterable[str] = (),
                     scores: Mapping[str, float] | None = None,
                     null_categories: Iterable[str] = (),
                     results: Sequence[Mapping[str, Any]] | None = None,
                     model: str | None = None, headers: Mapping[str, str] | None = None,
                     delay: float = 0.0) -> Reply:
    """A moderation answer (schema-checked now and when served).

    By default one result per input string (one for a multimodal parts list, with ``image``
    applied types for image-capable categories when an image part was sent), and the request's
    model echoed. ``results=[moderation_result(...), ...]`` fixes the results instead.
    """
    reply = _moderation(flagged, categories=categories, scores=scores,
                        null_categories=null_categories, results=results, model=model,
                        headers=headers, delay=delay)
    return _validated(reply, ("moderations", reply.body, "json"))


# -- transcriptions --------------------------------------------------------------------------

WordSpec = tuple[str, float, float] | Mapping[str, Any]
SegmentSpec = tuple[float, float, str] | Mapping[str, Any]


def _segment(index: int, spec: SegmentSpec) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        return dict(spec)
    start, end, text = spec
    return {"id": index, "seek": 0, "start": start, "end": end, "text": text,
            "tokens": [50364 + index], "temperature": 0.0, "avg_logprob": -0.2,
            "compression_ratio": 1.0, "no_speech_prob": 0.01}


def _split_words(text: str, duration: float) -> list[dict[str, Any]]:
    words = text.split()
    step = duration / max(len(words), 1)
    return [{"word": w.strip(".,!?;:"), "start": round(i * step, 3),
             "end": round((i + 1) * step, 3)} for i, w in enumerate(words)]


def _transcription_json(data: Mapping[str, Any], model: str, logprobs: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"text": data["text"]}
    if logprobs:
        body["logprobs"] = [{"token": w["word"], "logprob": -0.01,
                             "bytes": list(w["word"].encode())} for w in data["words"]]
    if model.startswith("gpt-"):
        audio = max(1, int(data["duration"] * 10))
        output = max(1, len(data["text"].split()))
        body["usage"] = {"type": "tokens", "input_tokens": audio, "output_tokens": output,
                         "total_tokens": audio + output,
                         "input_token_details": {"text_tokens": 0, "audio_tokens": audio}}
    else:
        body["usage"] = {"type": "duration", "seconds": math.ceil(data["duration"])}
    return body


def _transcription_verbose(data: Mapping[str, Any], granularities: Sequence[str]
                           ) -> dict[str, Any]:
    body: dict[str, Any] = {"task": "transcribe", "language": data["language"],
                            "duration": data["duration"], "text": data["text"]}
    if "word" in granularities:
        body["words"] = data["words"]
    if "segment" in granularities:
        body["segments"] = data["segments"]
    body["usage"] = {"type": "duration", "seconds": math.ceil(data["duration"])}
    return body


def _timestamp(seconds: float, separator: str) -> str:
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"


def _subtitles(data: Mapping[str, Any], vtt: bool) -> str:
    blocks = []
    for i, seg in enumerate(data["segments"], 1):
        sep = "." if vtt else ","
        times = f"{_timestamp(seg['start'], sep)} --> {_timestamp(seg['end'], sep)}"
        text = str(seg["text"]).strip()
        blocks.append(f"{times}\n{text}\n" if vtt else f"{i}\n{times}\n{text}\n")
    return ("WEBVTT\n\n" if vtt else "") + "\n".join(blocks)


def _adapt_transcription(data: Any, request: RecordedRequest) -> Any:
    form = request.form
    response_format = form.get("response_format", "json")
    if response_format == "text":
        return f"{data['text']}\n"
    if response_format in ("srt", "vtt"):
        return _subtitles(data, response_format == "vtt")
    if response_format == "verbose_json":
        return _transcription_verbose(data, form.get("timestamp_granularities") or ["segment"])
    if response_format == "diarized_json":
        segments = [{"type": "transcript.text.segment", "id": f"seg_{s['id']}",
                     "start": s["start"], "end": s["end"], "text": s["text"], "speaker": "A"}
                    for s in data["segments"]]
        return {"task": "transcribe", "duration": data["duration"], "text": data["text"],
                "segments": segments,
                "usage": {"type": "duration", "seconds": math.ceil(data["duration"])}}
    include = form.get("include") or []
    return _transcription_json(data, str(form.get("model", "")), "logprobs" in include)


def _transcription(text: str = "Hello world.", *, language: str = "english",
                   duration: float = 1.5, words: Sequence[WordSpec] | None = None,
                   segments: Sequence[SegmentSpec] | None = None,
                   headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    data = {
        "text": text, "language": language, "duration": duration,
        "words": ([dict(w) if isinstance(w, Mapping) else {"word": w[0], "start": w[1],
                                                             "end": w[2]} for w in words]
                  if words is not None else _split_words(text, duration)),
        "segments": ([_segment(i, s) for i, s in enumerate(segments)]
                     if segments is not None else [_segment(0, (0.0, duration, text))]),
    }
    return Reply(body=data, kind="transcriptions", headers=dict(headers or {}), delay=delay,
                 adapt=_adapt_transcription)


def transcription_reply(text: str = "Hello world.", *, language: str = "english",
                        duration: float = 1.5, words: Sequence[WordSpec] | None = None,
                        segments: Sequence[SegmentSpec] | None = None,
                        headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    """A transcription, shaped by the request's ``response_format`` when served.

    ``json`` → ``{text, usage}`` (+ ``logprobs`` with ``include[]=logprobs``); ``verbose_json``
    → ``language``/``duration``/``text`` with ``segments`` and/or ``words`` per
    ``timestamp_granularities[]`` (default segments); ``text``/``srt``/``vtt`` → plain text.
    ``words`` are ``(word, start, end)``; ``segments`` ``(start, end, text)`` or full dicts;
    both default to an even split of ``text`` over ``duration``.
    """
    reply = _transcription(text, language=language, duration=duration, words=words,
                           segments=segments, headers=headers, delay=delay)
    data = reply.body
    return _validated(
        reply,
        ("transcriptions", _transcription_json(data, "whisper-1", True), "json"),
        ("transcriptions", _transcription_json(data, "gpt-4o-transcribe", False), "json"),
        ("transcriptions", _transcription_verbose(data, ("word", "segment")), "verbose_json"),
    )


def default_reply(endpoint: str) -> Reply:
    """The answer used when nothing is scripted (not validated here; the server does)."""
    if endpoint == "chat":
        return _chat(n_from_request=True)
    if endpoint == "moderations":
        return _moderation()
    if endpoint == "transcriptions":
        return _transcription()
    if endpoint == "models":
        return Reply(body={"object": "list", "data": [
            {"id": model, "object": "model", "created": 0, "owned_by": "fake"}
            for model in (DEFAULT_CHAT_MODEL, DEFAULT_MODERATION_MODEL, "whisper-1")]})
    raise ValueError(f"no default reply for {endpoint!r}")


# -- faults ----------------------------------------------------------------------------------

_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("Country, region, or territory not supported", "request_forbidden",
          "unsupported_country_region_territory"),
    404: ("The model `gpt-fake` does not exist or you do not have access to it.",
          "invalid_request_error", "model_not_found"),
    408: ("Request timed out.", "timeout", None),
    409: ("Lock timeout.", "conflict", None),
    429: ("Rate limit reached for gpt-4o-mini in organization org-fake on requests per min "
          "(RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.", "requests",
          "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!",
          "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


def error_body(message: str, type_: str | None = "invalid_request_error",
               param: str | None = None, code: str | int | None = None) -> dict[str, Any]:
    """``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_reply(status: int, body: Mapping[str, Any] | str | bytes | None = None,
                headers: Mapping[str, str] | None = None, *, delay: float = 0.0,
                content_type: str | None = None) -> Reply:
    """A failure with any body: a dict (JSON), a raw string/bytes, or ``None`` for OpenAI's
    usual error for ``status``. Not schema-checked (compatible servers send odd bodies)."""
    if body is None:
        message, type_, code = _DEFAULT_ERRORS.get(
            status, (f"HTTP {status}", "server_error" if status >= 500 else
                     "invalid_request_error", None))
        body = error_body(message, type_, None, code)
    if content_type is None and isinstance(body, str | bytes):
        head = body[:1]
        content_type = ("text/html; charset=utf-8" if head in ("<", b"<")
                        else "text/plain; charset=utf-8")
    return Reply(status=status, body=dict(body) if isinstance(body, Mapping) else body,
                 headers=dict(headers or {}), delay=delay, content_type=content_type)


def openai_error(status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: Mapping[str, str] | None = None, delay: float = 0.0) -> Reply:
    """An OpenAI-shaped error, checked against ``ErrorResponse``."""
    body = error_body(message, type_, param, code)
    reply = error_reply(status, body, headers, delay=delay)
    return _validated(reply, ("error", body, "json"))


def rate_limit_reply(*, retry_after: float | str | None = 1, retry_after_ms: float | None = None,
                     should_retry: bool | None = None, headers: Mapping[str, str] | None = None,
                     delay: float = 0.0) -> Reply:
    """429 ``rate_limit_exceeded`` with ``Retry-After``/``retry-after-ms``/``x-should-retry``
    (each omitted when ``None``) and ``x-ratelimit-*`` headers."""
    extra: dict[str, str] = {
        "x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "20s", "x-ratelimit-limit-tokens": "40000",
        "x-ratelimit-remaining-tokens": "39990", "x-ratelimit-reset-tokens": "15ms",
    }
    if retry_after is not None:
        extra["retry-after"] = _number(retry_after)
    if retry_after_ms is not None:
        extra["retry-after-ms"] = _number(retry_after_ms)
    if should_retry is not None:
        extra["x-should-retry"] = "true" if should_retry else "false"
    extra.update(headers or {})
    return error_reply(429, None, extra, delay=delay)


def insufficient_quota_reply(headers: Mapping[str, str] | None = None) -> Reply:
    """429 ``insufficient_quota`` (no ``Retry-After``: retrying cannot help)."""
    return openai_error(
        429, "You exceeded your current quota, please check your plan and billing details. For "
        "more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        type_="insufficient_quota", code="insufficient_quota", headers=headers)


def unsupported_parameter_reply(param: str = "max_tokens",
                                use: str = "max_completion_tokens") -> Reply:
    """400 ``unsupported_parameter`` exactly as reasoning models send it for ``max_tokens``."""
    return openai_error(400, f"Unsupported parameter: '{param}' is not supported with this "
                        f"model. Use '{use}' instead.", param=param, code="unsupported_parameter")


def unsupported_value_reply(param: str = "temperature", value: Any = 0.2,
                            default: Any = 1) -> Reply:
    """400 ``unsupported_value`` as GPT-5 reasoning models send it for ``temperature``."""
    return openai_error(400, f"Unsupported value: '{param}' does not support {value} with this "
                        f"model. Only the default ({default}) value is supported.",
                        param=param, code="unsupported_value")


def context_length_reply(limit: int = 128000, used: int = 130000) -> Reply:
    """400 ``context_length_exceeded``."""
    return openai_error(400, f"This model's maximum context length is {limit} tokens. However, "
                        f"your messages resulted in {used} tokens. Please reduce the length of "
                        "the messages.", param="messages", code="context_length_exceeded")


def azure_content_filter_reply() -> Reply:
    """Azure OpenAI's 400 for a filtered prompt (``code: content_filter``, ``type: null``)."""
    results = {name: {"filtered": name == "violence",
                      "severity": "medium" if name == "violence" else "safe"}
               for name in ("hate", "self_harm", "sexual", "violence")}
    body = error_body(
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy. Please modify your prompt and retry. To learn more about our content "
        "filtering policies please read our documentation: "
        "https://go.microsoft.com/fwlink/?linkid=2198766", None, "prompt", "content_filter")
    body["error"].update(status=400, innererror={"code": "ResponsibleAIPolicyViolation",
                                                 "content_filter_result": results})
    return error_reply(400, body)


def llamacpp_error_reply(message: str = "the request exceeds the available context size, try "
                         "increasing it", code: int = 400,
                         type_: str = "exceed_context_size_error") -> Reply:
    """llama.cpp ``llama-server`` style: ``error.code`` is the integer status, no ``param``."""
    return error_reply(code, {"error": {"code": code, "message": message, "type": type_}})


def html_error_reply(status: int = 502, headers: Mapping[str, str] | None = None) -> Reply:
    """A proxy's HTML error page."""
    title = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable",
             504: "504 Gateway Time-out"}.get(status, f"{status} Error")
    page = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}"
            "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    return error_reply(status, page, headers)


def json_reply(body: Any, status: int = 200, headers: Mapping[str, str] | None = None, *,
               delay: float = 0.0) -> Reply:
    """Any JSON body, not schema-checked (compatible-server quirks, ``finish_reason: null``)."""
    return Reply(status=status, body=body, headers=dict(headers or {}), delay=delay,
                 content_type="application/json")


def raw_reply(body: str | bytes = '{"id": "chatcmpl-broken", "choices": [', status: int = 200,
              content_type: str = "application/json",
              headers: Mapping[str, str] | None = None) -> Reply:
    """A body sent verbatim (by default a truncated, invalid JSON document with status 200)."""
    return Reply(status=status, body=body, headers=dict(headers or {}),
                 content_type=content_type)


def delay_reply(seconds: float, reply: Reply | None = None) -> Reply:
    """``reply`` (default: the endpoint's default answer) after ``seconds``."""
    return (reply or Reply(use_default=True)).with_(delay=seconds)


def drop_reply(reply: Reply | None = None) -> Reply:
    """Send the headers and part of the body of ``reply`` (default answer), then close."""
    return (reply or Reply(use_default=True)).with_(drop=True)


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)
