"""OPENAITRANSCRIPTION: transcribe the audio file of a FILE parameter (WorkflowGen 10's app).

The file is mapped, checked and read by :mod:`.files` before anything is sent, then uploaded as
multipart form data with its name and content type. ``VERBOSE_OUTPUT`` asks for
``verbose_json`` (language, duration, segments); ``WORDS_OUTPUT`` adds word timestamps and
implies the verbose output. Models that only answer ``json`` (the gpt-*-transcribe family)
refuse both: asking them is a parameter error, never a silent downgrade.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import BadUpstreamAnswer, MissingParameter, ParameterError
from ..settings import fallback
from .call import Call, to_text
from .files import read_file
from .registry import (
    API_KEY,
    COMMON,
    FILE,
    IN,
    NUMERIC,
    OUT,
    PROVIDER,
    TEXT,
    UPSTREAM_COMMON,
    App,
    Param,
    register,
)

DEFAULT_URL = fallback("OpenAITranscriptionApiUrl")
DEFAULT_MODEL = "whisper-1"
#: gpt-4o-transcribe, gpt-4o-mini-transcribe (dated or not), gpt-transcribe, *-diarize...
JSON_ONLY_MODEL = re.compile(r"^gpt-.*transcribe", re.IGNORECASE)

PARAMS = (
    Param("FILE", FILE, IN,
          "The audio file (flac, m4a, mp3, mp4, mpeg, mpga, ogg, wav or webm), read from a "
          "folder of WorkflowAppAllowedFolders after WorkflowAppPathMap.", required=True),
    API_KEY,
    Param("URL", TEXT, IN, "Full transcriptions endpoint; default: setting "
          f"OpenAITranscriptionApiUrl, else {DEFAULT_URL}."),
    Param("MODEL", TEXT, IN, "Transcription model.", default=DEFAULT_MODEL),
    Param("TEMPERATURE", NUMERIC, IN, "Sampling temperature, 0 to 1; sent only when given.",
          minimum=0, maximum=1),
    Param("LANGUAGE", TEXT, IN, "Language of the audio (ISO-639-1, e.g. en, fr)."),
    Param("PROMPT", TEXT, IN, "Text to guide the style, in the audio's language."),
    Param("VERBOSE_OUTPUT", TEXT, IN,
          "Y: verbose output (verbose_json: language, duration, segments); not with the "
          "json-only gpt-*-transcribe models.",
          default="N", yes_no=True),
    Param("WORDS_OUTPUT", TEXT, IN,
          "Y: word timestamps too (implies the verbose output); not with the json-only "
          "gpt-*-transcribe models.",
          default="N", yes_no=True),
    Param("RESULT_WORDS_SEPARATOR", TEXT, IN, "Separator of the words in RESULT_WORDS.",
          default=","),
    PROVIDER,
    *COMMON,
    *UPSTREAM_COMMON,
    Param("TEXT", TEXT, OUT, "The transcription."),
    Param("RESULT", TEXT, OUT, "The upstream response, as received."),
    Param("RESULT_LANGUAGE", TEXT, OUT, "Detected language (verbose output).", ext=True),
    Param("RESULT_DURATION", NUMERIC, OUT, "Audio duration in seconds (verbose output).",
          ext=True),
    Param("RESULT_WORDS", TEXT, OUT,
          "The words, joined with RESULT_WORDS_SEPARATOR (words output).", ext=True),
    Param("RESULT_SEGMENTS", TEXT, OUT, "The segments, JSON (verbose output).", ext=True),
)


def run(call: Call) -> None:
    """Check the inputs, read the file, upload it and fill the outputs."""
    fields = form_fields(call)
    endpoint = call.endpoint("OpenAITranscriptionApiUrl", DEFAULT_URL)
    ref = call.file("FILE")
    if ref is None:  # unreachable: FILE is required, validate() refused its absence
        raise MissingParameter("Parameter FILE is required.", parameter="FILE")
    audio = read_file(ref, call.services.settings, parameter="FILE")
    call.log.info("uploading %s (%d bytes, %s)", audio.name, len(audio.data),
                  audio.content_type)
    response = call.services.client.post_multipart(
        endpoint.url, fields=fields,
        files={"file": (audio.name, audio.data, audio.content_type)},
        api_key=endpoint.api_key, provider=endpoint.provider, options=endpoint.options,
        log=call.log,
    )
    call.record(response)
    _fill_outputs(call, response.data, response.text)


def form_fields(call: Call) -> list[tuple[str, str]]:
    """The multipart fields besides the file, in the order OpenAI documents them."""
    model = call.text("MODEL") or DEFAULT_MODEL
    words, verbose = call.flag("WORDS_OUTPUT"), call.flag("VERBOSE_OUTPUT")
    if (words or verbose) and JSON_ONLY_MODEL.match(model):
        asked = "WORDS_OUTPUT" if words else "VERBOSE_OUTPUT"
        raise ParameterError(
            f"{asked} is Y but model {model} only answers plain json (no language, duration, "
            "segments or words); use whisper-1 or set it to N.", parameter=asked,
        )
    fields = [("model", model), ("response_format", "verbose_json" if words or verbose
                                 else "json")]
    if words:
        fields += [("timestamp_granularities[]", "word"), ("timestamp_granularities[]",
                                                           "segment")]
    for name, key in (("LANGUAGE", "language"), ("PROMPT", "prompt")):
        value = call.text(name)
        if value is not None:
            fields.append((key, value))
    temperature = call.number("TEMPERATURE")
    if temperature is not None:
        fields.append(("temperature", to_text(temperature)))
    return fields


def _fill_outputs(call: Call, data: Any, text: str) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise BadUpstreamAnswer("The transcription answer has no text.", http_status=200,
                                body=text)
    call.set("TEXT", data["text"])
    call.set("RESULT", text)
    call.set("RESULT_LANGUAGE", data.get("language") if isinstance(data.get("language"), str)
             else None)
    duration = data.get("duration")
    call.set("RESULT_DURATION", duration if isinstance(duration, int | float)
             and not isinstance(duration, bool) else None)
    separator = call.text("RESULT_WORDS_SEPARATOR") or ","
    words = [w["word"].strip() for w in data.get("words") or ()
             if isinstance(w, dict) and isinstance(w.get("word"), str)]
    call.set("RESULT_WORDS", separator.join(words) if words else None)
    segments = data.get("segments")
    call.set("RESULT_SEGMENTS", json.dumps(segments, ensure_ascii=False)
             if isinstance(segments, list) else None)


OPENAITRANSCRIPTION = register(
    App(
        name="OPENAITRANSCRIPTION",
        description="Transcribes an audio file with OpenAI, Azure OpenAI or a compatible "
        "server (WorkflowGen 10 parameters, plus language, duration, words and segments).",
        params=PARAMS,
        log_setting="OpenAITranscriptionLogLevel",
        run=run,
    )
)
