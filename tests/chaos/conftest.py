"""Fixtures for the chaos tests: a steady chat load on the session's real stack, and the
per-scenario summaries, printed at the end of the run (also without ``-s``)."""

from __future__ import annotations

import pytest

from traffic import Traffic

SUMMARIES: list[str] = []


@pytest.fixture
def traffic(local_stack):
    """Make a ``Traffic`` (rooms of 2-3 members over both edges); stopped after the test."""
    made: list[Traffic] = []
    edges = {name: local_stack.endpoints()[name]["websocket"] for name in ("edge-a", "edge-b")}

    def make(**kwargs) -> Traffic:
        made.append(Traffic(local_stack.settings, edges, **kwargs))
        return made[-1]

    yield make
    for t in made:
        t.close()


@pytest.fixture
def summaries():
    """Append a scenario's summary here to have it printed in the terminal summary."""
    return SUMMARIES


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if SUMMARIES:
        terminalreporter.section("chaos summaries")
        for text in SUMMARIES:
            terminalreporter.write_line(text)
