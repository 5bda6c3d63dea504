"""Pytest fixtures for the fake OpenAI server.

Load with ``pytest_plugins = ["tests.fakes.fixtures"]`` (done in ``tests/conftest.py``).

- ``fake_openai_server`` (session): one server on 127.0.0.1, started once.
- ``fake_openai`` (function): the same server, reset before the test (queue, records,
  settings); after the test it fails the test when the fake received an invalid request
  (unless the test called ``fake_openai.expect_invalid()``) or a scripted reply was wrong.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.server import FakeOpenAI
from tests.fakes.spec import load_spec

__all__ = ["fake_openai", "fake_openai_server"]


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """The session's fake server (prefer ``fake_openai``, which resets it per test)."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The fake, clean for this test; fails the test on unexpected invalid requests."""
    fake = fake_openai_server
    fake.reset()
    yield fake
    problems = fake.teardown_problems()
    fake.reset()
    if problems:
        pytest.fail("OpenAI fake:\n  " + "\n  ".join(problems), pytrace=False)


def pytest_report_header(config: pytest.Config) -> str:
    """Say on the first lines of the run whether the fake validates against the spec."""
    spec, reason = load_spec()
    if spec is None:
        return f"openai fake: {reason}"
    return f"openai fake: schema validation on ({spec.directory})"
