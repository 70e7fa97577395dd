"""Installing ``tests.plugins.echo_provider`` as an ``orchestrion.providers`` entry point, for one test.

A distribution's metadata on ``sys.path`` is what ``importlib.metadata`` reads:
this writes a minimal ``.dist-info`` (METADATA and entry_points.txt) into a
directory and puts it first on ``sys.path``. It works in a fresh clone with
no install step.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def install_echo(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = directory / "orchestrion_echo-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: orchestrion-echo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[orchestrion.providers]\necho = tests.plugins.echo_provider:make\n")
    monkeypatch.syspath_prepend(str(directory))
