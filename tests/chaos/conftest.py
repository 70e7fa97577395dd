"""The chaos tier: faults injected into real processes on loopback, each case ending with a line of figures.

Every case records its figures (``figures`` fixture); they are printed
together at the end of the run, under "chaos figures".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.acceptance.processes import Processes

_FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record the case's line of figures (printed now, and again in the run's summary)."""
    lines = request.config.stash.setdefault(_FIGURES, [])

    def record(line: str) -> None:
        lines.append(f"{request.node.name}: {line}")
        print(line)

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_FIGURES, [])
    if lines:
        terminalreporter.section("chaos figures")
        for line in lines:
            terminalreporter.line(line)


@pytest.fixture
def chaos_processes(tmp_path: Path) -> Iterator[Callable[[str], Processes]]:
    """Real ``orchestrion`` processes on a given database, logs under ``tmp_path``, all stopped at the end."""
    started: list[Processes] = []

    def on(database_url: str) -> Processes:
        procs = Processes(database_url, log_dir=tmp_path)
        started.append(procs)
        return procs

    yield on
    for procs in started:
        procs.stop_all()
