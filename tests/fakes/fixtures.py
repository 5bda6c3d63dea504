"""Pytest fixtures for the fake servers.

Load with ``pytest_plugins = ["tests.fakes.fixtures"]`` (done in ``tests/conftest.py``).

- ``fake_openai_server`` / ``fake_anthropic_server`` / ``fake_mistral_server`` /
  ``fake_gemini_server`` (session): one server each on 127.0.0.1, started once.
- ``fake_openai`` / ``fake_anthropic`` / ``fake_mistral`` / ``fake_gemini`` (function): the
  same server, reset before the test (queue, records, settings); after the test it fails the
  test when the fake received an invalid request (unless the test called
  ``.expect_invalid()``) or a scripted reply was wrong. ``fake_mistral`` and ``fake_gemini``
  are ``FakeOpenAI(mode="mistral")`` and ``FakeOpenAI(mode="gemini")``: separate servers, so
  a test can use several providers at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import pytest

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.base import FakeServer
from tests.fakes.server import FakeOpenAI
from tests.fakes.spec import load_spec

__all__ = [
    "fake_anthropic",
    "fake_anthropic_server",
    "fake_gemini",
    "fake_gemini_server",
    "fake_mistral",
    "fake_mistral_server",
    "fake_openai",
    "fake_openai_server",
]

Fake = TypeVar("Fake", bound=FakeServer)


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """The session's fake server (prefer ``fake_openai``, which resets it per test)."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The fake, clean for this test; fails the test on unexpected invalid requests."""
    yield from _clean(fake_openai_server, "OpenAI fake")


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeAnthropic]:
    """The session's Anthropic fake (prefer ``fake_anthropic``, which resets it per test)."""
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake_anthropic(fake_anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    """The Anthropic fake, clean for this test; fails the test on unexpected invalid
    requests."""
    yield from _clean(fake_anthropic_server, "Anthropic fake")


@pytest.fixture(scope="session")
def fake_mistral_server() -> Iterator[FakeOpenAI]:
    """The session's OpenAI fake in Mistral mode (prefer ``fake_mistral``)."""
    with FakeOpenAI(mode="mistral") as fake:
        yield fake


@pytest.fixture
def fake_mistral(fake_mistral_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """``FakeOpenAI(mode="mistral")``, clean for this test (``chat_url`` is ``…/v1/…``)."""
    yield from _clean(fake_mistral_server, "Mistral fake")


@pytest.fixture(scope="session")
def fake_gemini_server() -> Iterator[FakeOpenAI]:
    """The session's OpenAI fake in Gemini mode (prefer ``fake_gemini``)."""
    with FakeOpenAI(mode="gemini") as fake:
        yield fake


@pytest.fixture
def fake_gemini(fake_gemini_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """``FakeOpenAI(mode="gemini")``, clean for this test (``chat_url`` is
    ``…/v1beta/openai/chat/completions``)."""
    yield from _clean(fake_gemini_server, "Gemini fake")


def _clean(fake: Fake, name: str) -> Iterator[Fake]:
    fake.reset()
    yield fake
    problems = fake.teardown_problems()
    fake.reset()
    if problems:
        pytest.fail(f"{name}:\n  " + "\n  ".join(problems), pytrace=False)


def pytest_report_header(config: pytest.Config) -> str:
    """Say on the first lines of the run whether the fake validates against the spec."""
    spec, reason = load_spec()
    if spec is None:
        return f"openai fake: {reason}"
    return f"openai fake: schema validation on ({spec.directory})"
