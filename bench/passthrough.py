"""The minimal pass-through (issue 14's baseline): Flask + a module-level requests.Session that
posts one fixed chat request to the upstream and answers its text. No context, no checks, no
logs: the floor a Python host can reach with these libraries, served by the same gunicorn
settings as the host (``gunicorn --config config/gunicorn.conf.py bench.passthrough:app``).
"""

import json
import os

import requests
from flask import Flask, Response, request

URL = os.environ["OpenAIChatApiUrl"]  # noqa: SIM112 (the host's setting names)
HEADERS = {"Authorization": f"Bearer {os.environ['OpenAIApiKey']}",  # noqa: SIM112
           "Content-Type": "application/json"}
BODY = json.dumps({"model": "gpt-4o-mini", "max_tokens": 256, "messages": [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "Hello there"}]}).encode()
session = requests.Session()
app = Flask(__name__)


@app.post("/<name>")
def call(name: str) -> Response:
    request.get_data()
    answer = session.post(URL, data=BODY, headers=HEADERS, timeout=900)
    text = answer.json()["choices"][0]["message"]["content"]
    return Response(text, answer.status_code, content_type="text/plain; charset=utf-8")


@app.get("/healthz")
def healthz() -> str:
    return "ok"
