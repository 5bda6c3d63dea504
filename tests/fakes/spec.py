"""The trimmed OpenAI spec: where it lives, compiled validators, and the request checks.

The spec folder is ``$WORKFLOWAPP_OPENAI_SPEC`` or ``<repo>/../shared/openai-spec``. When it is
absent, schema checks are skipped and the reason is logged once (and printed to stderr); the
checks that need no schema (conversation order, transcription limits, ...) still run.
Validators are compiled once per folder and per ``$defs`` entry (module-level cache).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft202012Validator,
    ValidationError,
)
from jsonschema.exceptions import best_match  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "ENV_VAR",
    "MAX_AUDIO_BYTES",
    "AUDIO_EXTENSIONS",
    "InvalidReply",
    "Problem",
    "Spec",
    "check_chat",
    "check_conversation",
    "check_moderation",
    "check_reply",
    "check_transcription",
    "default_spec_dir",
    "load_spec",
    "transcription_fields",
]

log = logging.getLogger("tests.fakes")

ENV_VAR = "WORKFLOWAPP_OPENAI_SPEC"
REQUEST_SCHEMAS = "openai-requests.schema.json"
RESPONSE_SCHEMAS = "openai-responses.schema.json"
MAX_AUDIO_BYTES = 25 * 1024 * 1024
AUDIO_EXTENSIONS = frozenset(
    {"flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"}
)
# OpenAI enforces these name patterns although the trimmed schema does not carry them.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Transcription form fields whose type must be known without the spec (temperature check).
_FALLBACK_TYPES: dict[str, set[str]] = {"temperature": {"number"}, "stream": {"boolean", "null"}}


class Problem(Exception):
    """An invalid request: answered with an OpenAI-shaped error and recorded as invalid."""

    def __init__(self, message: str, param: str | None = None, status: int = 400,
                 code: str | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.code = code
        self.body = body
        """A ready answer body in the provider's own shape (``None``: the fake shapes it)."""


class InvalidReply(AssertionError):
    """A scripted or default answer that does not match the response schema."""


class Spec:
    """The two schema bundles of one spec folder, with lazily compiled validators."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.requests: dict[str, Any] = _read(directory / REQUEST_SCHEMAS)
        self.responses: dict[str, Any] = _read(directory / RESPONSE_SCHEMAS)
        Draft202012Validator.check_schema(self.requests)
        Draft202012Validator.check_schema(self.responses)
        self._validators: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.chat_fields = frozenset(_properties(self.requests, "ChatCompletionRequest"))
        self.moderation_fields = frozenset(_properties(self.requests, "ModerationRequest"))
        self.transcription_props: dict[str, Any] = _resolve(
            self.requests, {"$ref": "#/$defs/CreateTranscriptionRequest"})["properties"]

    def validator(self, bundle: str, name: str) -> Any:
        """The compiled validator for ``$defs/<name>`` of ``"requests"`` or ``"responses"``."""
        key = (bundle, name)
        found = self._validators.get(key)
        if found is None:
            with self._lock:
                found = self._validators.get(key)
                if found is None:
                    schema = self.requests if bundle == "requests" else self.responses
                    if name not in schema["$defs"]:
                        raise KeyError(f"{name} is not in the {bundle} schema bundle")
                    found = Draft202012Validator({**schema, "$ref": f"#/$defs/{name}"})
                    self._validators[key] = found
        return found

    def first_error(self, bundle: str, name: str, instance: Any) -> tuple[str, str | None] | None:
        """``(message, param)`` of the most relevant violation, or ``None`` when valid."""
        errors = list(self.validator(bundle, name).iter_errors(instance))
        if not errors:
            return None
        return _describe(best_match(errors))


_specs: dict[Path, Spec] = {}
_skips: dict[Path, str] = {}
_specs_lock = threading.Lock()


def default_spec_dir() -> Path:
    """``$WORKFLOWAPP_OPENAI_SPEC``, else ``<repo>/../shared/openai-spec``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "openai-spec"


def load_spec(directory: str | Path | None = None) -> tuple[Spec | None, str | None]:
    """``(spec, None)`` or ``(None, reason)``; cached per folder, the reason is logged once."""
    path = Path(directory) if directory is not None else default_spec_dir()
    with _specs_lock:
        if path in _specs:
            return _specs[path], None
        if path in _skips:
            return None, _skips[path]
        try:
            spec = Spec(path)
        except FileNotFoundError as exc:
            reason = (f"OpenAI schema validation skipped: spec file {exc.filename} not found "
                      f"(set {ENV_VAR} or provide <repo>/../shared/openai-spec)")
        except (OSError, ValueError) as exc:
            reason = f"OpenAI schema validation skipped: cannot load the spec in {path}: {exc}"
        else:
            _specs[path] = spec
            return spec, None
        _skips[path] = reason
    log.warning("%s", reason)
    print(f"WARNING: {reason}", file=sys.stderr)
    return None, reason


def check_chat(body: Any, spec: Spec | None, *, deployment: str | None = None,
               json_word: bool = True) -> None:
    """Raise :class:`Problem` unless ``body`` is a valid chat completion request.

    :param deployment: set on Azure deployment URLs, where ``model`` may be omitted.
    :param json_word: OpenAI's rule that ``json_object`` needs the word "json" in the
        messages (OpenAI and Azure only).
    """
    if not isinstance(body, dict):
        raise Problem(f"{_short(body)} is not of type 'object'")
    if spec is not None:
        _check_fields(body, spec.chat_fields)
        candidate = body if deployment is None or "model" in body else {**body, "model": deployment}
        _raise_first(spec, "ChatCompletionRequest", candidate)
    _check_chat_semantics(body, json_word)
    messages = body.get("messages")
    if isinstance(messages, list):
        check_conversation(messages)


def check_moderation(body: Any, spec: Spec | None) -> None:
    """Raise :class:`Problem` unless ``body`` is a valid moderation request."""
    if not isinstance(body, dict):
        raise Problem(f"{_short(body)} is not of type 'object'")
    if spec is not None:
        _check_fields(body, spec.moderation_fields)
        _raise_first(spec, "ModerationRequest", body)


def check_conversation(messages: list[Any]) -> None:
    """Each assistant ``tool_calls`` is answered by one ``tool`` message per id, in place."""
    pending: list[str] = []
    opened_at = 0
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                raise Problem(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.", f"messages[{index}].role")
            pending.remove(call_id)
            continue
        if pending:
            raise _dangling(pending, opened_at)
        calls = message.get("tool_calls") if role == "assistant" else None
        if isinstance(calls, list) and calls:
            pending = [str(c.get("id")) for c in calls if isinstance(c, dict)]
            opened_at = index
    if pending:
        raise _dangling(pending, opened_at)


def transcription_fields(form: Iterable[tuple[str, str]], file_name: str | None,
                         spec: Spec | None) -> dict[str, Any]:
    """The multipart form as the spec README describes it, ready for schema validation.

    ``file`` becomes its file name, ``x[]`` fields become a list under ``x``, ``x[k]`` fields
    an object under ``x``, and text is converted to the number/boolean the schema expects.
    """
    props = spec.transcription_props if spec is not None else {}
    defs = spec.requests if spec is not None else {"$defs": {}}
    fields: dict[str, Any] = {}
    for name, value in form:
        if name.endswith("[]"):
            base = name[:-2]
            fields.setdefault(base, []).append(_coerce(value, _item_schema(props.get(base)), defs))
            continue
        nested = re.fullmatch(r"([^\[\]]+)\[([^\[\]]+)\]", name)
        if nested:
            base, key = nested.groups()
            target = fields.setdefault(base, {})
            if isinstance(target, dict):
                target[key] = _coerce(value, _object_property(props.get(base), key, defs), defs)
            continue
        types = _types(props[name], defs) if name in props else _FALLBACK_TYPES.get(name, set())
        converted = _convert(value, types)
        if name in fields:  # a repeated plain field: keep every value, the schema will judge
            previous = fields[name]
            fields[name] = [*(previous if isinstance(previous, list) else [previous]), converted]
        else:
            fields[name] = converted
    if file_name is not None:
        fields["file"] = file_name
    return fields


def check_transcription(fields: dict[str, Any], file_name: str | None, file_size: int,
                        spec: Spec | None) -> None:
    """Raise :class:`Problem` unless the converted form is a valid transcription request."""
    if file_name is None:
        raise Problem("'file' must be sent as an uploaded file (multipart/form-data)", "file")
    if spec is not None:
        _raise_first(spec, "TranscriptionRequest", fields)
    temperature = fields.get("temperature")
    if isinstance(temperature, int | float) and not 0 <= temperature <= 1:
        raise Problem(f"{temperature} is not between 0 and 1", "temperature")
    if file_size > MAX_AUDIO_BYTES:
        raise Problem(f"Maximum content size limit ({MAX_AUDIO_BYTES}) exceeded "
                      f"({file_size} bytes read)", "file", status=413)
    if file_size == 0:
        raise Problem("The audio file is empty.", "file")
    extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension not in AUDIO_EXTENSIONS:
        raise Problem(f"Invalid file format. Supported formats: {sorted(AUDIO_EXTENSIONS)}",
                      "file")
    response_format = fields.get("response_format", "json")
    if fields.get("timestamp_granularities") and response_format != "verbose_json":
        raise Problem("timestamp_granularities requires response_format=verbose_json",
                      "timestamp_granularities")
    model = str(fields.get("model", ""))
    allowed = _transcription_formats(model)
    if allowed is not None and response_format not in allowed:
        raise Problem(f"response_format '{response_format}' is not compatible with model "
                      f"'{model}'. Use {' or '.join(sorted(allowed))}.", "response_format")


def check_reply(kind: str, body: Any, spec: Spec | None, response_format: str = "json") -> None:
    """Raise :class:`InvalidReply` unless ``body`` matches the response schema of ``kind``."""
    if spec is None:
        return
    if kind == "chat":
        name = "ChatCompletionResponse"
    elif kind == "moderations":
        name = "ModerationResponse"
    elif kind == "transcriptions":
        if response_format not in ("json", "verbose_json") or not isinstance(body, dict):
            return  # text/srt/vtt are plain text; diarized_json has no schema in the bundle
        name = ("TranscriptionResponseVerboseJson" if response_format == "verbose_json"
                else "TranscriptionResponseJson")
    elif kind == "error":
        name = "ErrorResponse"
    else:
        raise ValueError(f"unknown reply kind {kind!r}")
    error = spec.first_error("responses", name, body)
    if error is not None:
        message, param = error
        raise InvalidReply(f"{name} invalid at {param or '<root>'}: {message}")


# -- helpers ---------------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict) or "$defs" not in data:
        raise ValueError(f"{path.name} has no $defs")
    return data


def _resolve(bundle: Mapping[str, Any], schema: Any) -> Any:
    while isinstance(schema, Mapping) and "$ref" in schema:
        schema = bundle["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _properties(bundle: Mapping[str, Any], name: str) -> set[str]:
    """Top-level property names of ``$defs/name``, following ``$ref`` and ``allOf``."""
    return _properties_of(bundle, {"$ref": f"#/$defs/{name}"})


def _properties_of(bundle: Mapping[str, Any], schema: Any) -> set[str]:
    schema = _resolve(bundle, schema)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", ()):
        names |= _properties_of(bundle, part)
    return names


def _types(schema: Any, bundle: Mapping[str, Any]) -> set[str]:
    """Every JSON type a (sub)schema admits, through ``$ref``/``anyOf``/``oneOf``/``allOf``."""
    schema = _resolve(bundle, schema)
    if not isinstance(schema, Mapping):
        return set()
    found: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        found.add(declared)
    elif isinstance(declared, list):
        found.update(declared)
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, ()):
            found |= _types(part, bundle)
    return found


def _item_schema(schema: Any) -> Any:
    return schema.get("items") if isinstance(schema, Mapping) else None


def _object_property(schema: Any, key: str, bundle: Mapping[str, Any]) -> Any:
    schema = _resolve(bundle, schema)
    if not isinstance(schema, Mapping):
        return None
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    for branch in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(branch, ()):
            found = _object_property(part, key, bundle)
            if found is not None:
                return found
    return None


def _coerce(value: str, schema: Any, bundle: Mapping[str, Any]) -> Any:
    return _convert(value, _types(schema, bundle) if schema is not None else set())


def _convert(value: str, types: set[str]) -> Any:
    """Text to the schema's scalar type; left as text when that is allowed or impossible."""
    if "string" in types or not types:
        return value
    if "boolean" in types and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if "integer" in types and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            return value
    if "null" in types and value in ("", "null"):
        return None
    return value


def _check_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = [key for key in body if key not in allowed]
    if len(unknown) == 1:
        raise Problem(f"Unrecognized request argument supplied: {unknown[0]}")
    if unknown:
        raise Problem(f"Unrecognized request arguments supplied: {', '.join(unknown)}")


def _raise_first(spec: Spec, name: str, instance: Any) -> None:
    error = spec.first_error("requests", name, instance)
    if error is not None:
        message, param = error
        raise Problem(f"Invalid '{param}': {message}" if param else message, param)


def _check_chat_semantics(body: Mapping[str, Any], json_word: bool = True) -> None:
    """Rules OpenAI enforces beyond the schema (names, json mode, tool-only options)."""
    tools = body.get("tools")
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and not _NAME.match(name):
            raise Problem(f"Invalid 'tools[{index}].function.name': string does not match "
                          f"pattern. Expected a string that matches the pattern "
                          f"'{_NAME.pattern}'.", f"tools[{index}].function.name")
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        schema = response_format.get("json_schema")
        name = schema.get("name") if isinstance(schema, dict) else None
        if isinstance(name, str) and not _NAME.match(name):
            raise Problem(f"Invalid 'response_format.json_schema.name': string does not match "
                          f"pattern '{_NAME.pattern}'.", "response_format.json_schema.name")
        if json_word and response_format.get("type") == "json_object":
            text = json.dumps(body.get("messages", "")).lower()
            if "json" not in text:
                raise Problem("'messages' must contain the word 'json' in some form, to use "
                              "'response_format' of type 'json_object'.", "messages")
    for option in ("tool_choice", "parallel_tool_calls"):
        if body.get(option) is not None and not tools:
            raise Problem(f"Invalid value for '{option}': '{option}' is only allowed when "
                          "'tools' are specified.", option)
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        raise Problem("Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
                      "'top_logprobs' is used.", "top_logprobs")


def _transcription_formats(model: str) -> set[str] | None:
    """Response formats a known model accepts (``None``: no restriction known)."""
    if model.endswith("-diarize"):
        return {"json", "text", "diarized_json"}
    if model.startswith(("gpt-4o-transcribe", "gpt-4o-mini-transcribe")):
        return {"json"}
    return None


def _dangling(pending: list[str], index: int) -> Problem:
    return Problem("An assistant message with 'tool_calls' must be followed by tool messages "
                   "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                   f"response messages: {', '.join(pending)}", f"messages[{index}].role")


def _describe(error: Any) -> tuple[str, str | None]:
    """Message and JSON path of an error, looking through ``oneOf`` unions by discriminator.

    ``best_match`` stops at a ``oneOf`` when several branches fail equally (every message
    role); a branch whose ``role``/``type`` enum or base type already fails is not the one the
    client meant, so the remaining branch is described instead.
    """
    while error.context and error.validator in ("oneOf", "anyOf"):
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        meant = [errs for errs in branches.values() if not any(map(_misses, errs))]
        if len(meant) == 1:
            error = best_match(meant[0])
            continue
        if not meant:
            keys = {tuple(e.relative_path) for errs in branches.values() for e in errs
                    if e.validator in ("enum", "const")}
            if len(keys) == 1 and isinstance(error.instance, dict) and () not in keys:
                (key,) = keys
                allowed: list[Any] = []
                for errs in branches.values():
                    for sub in errs:
                        if sub.validator == "enum":
                            allowed += sub.validator_value
                        elif sub.validator == "const":
                            allowed.append(sub.validator_value)
                path = [*error.absolute_path, *key]
                return f"{error.instance.get(key[0])!r} is not one of {allowed}", _path(path)
        break
    return error.message, _path(error.absolute_path)


def _misses(error: ValidationError) -> bool:
    """True for a discriminator mismatch (``role``/``type`` enum) or a wrong base type."""
    if error.validator in ("enum", "const") and len(error.relative_path) == 1:
        return True
    return error.validator == "type" and len(error.relative_path) == 0


def _path(parts: Iterable[Any]) -> str | None:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
