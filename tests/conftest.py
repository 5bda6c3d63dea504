"""Shared fixtures: settings isolated from the machine, the Flask app wired to the loopback fake."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.test import Client as WebClient

from tests.helpers import SECRET_KEY
from workflowapp import create_app
from workflowapp.settings import Settings
from workflowapp.upstream import Client

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """No test reads the developer's web.config/.env or writes logs into the checkout."""
    monkeypatch.chdir(tmp_path)
    for key in ("WORKFLOWAPP_WEB_CONFIG", "WORKFLOWAPP_ENV_FILE", "OPENAIAPIKEY", "OpenAIApiKey"):
        monkeypatch.delenv(key, raising=False)
    yield
    for handler in list(logging.getLogger("workflowapp").handlers):
        logging.getLogger("workflowapp").removeHandler(handler)
        handler.close()


@pytest.fixture
def make_settings(tmp_path: Any, fake_openai: Any) -> Callable[..., Settings]:
    """Settings pointing every application at the fake, with a test key."""

    def make(**values: str) -> Settings:
        base = {
            "WorkflowAppLogPath": str(tmp_path / "logs"),
            "OpenAIApiKey": SECRET_KEY,
            "OpenAIChatApiUrl": fake_openai.chat_url,
            "OpenAIModerationApiUrl": fake_openai.moderations_url,
            "OpenAITranscriptionApiUrl": fake_openai.transcriptions_url,
        }
        base.update(values)
        return Settings(base)

    return make


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff delays the upstream client asked for (recorded instead of slept)."""
    return []


@pytest.fixture
def make_client(
    make_settings: Callable[..., Settings], sleeps: list[float]
) -> Callable[..., WebClient]:
    """A Flask test client of the real app; upstream backoff is recorded, not slept."""

    def make(**values: str) -> WebClient:
        settings = make_settings(**values)
        client = Client(allowed_hosts=settings.allowed_hosts, sleep=sleeps.append)
        return create_app(settings, client).test_client()

    return make


@pytest.fixture
def client(make_client: Callable[..., WebClient]) -> WebClient:
    """The app with default test settings."""
    return make_client()
