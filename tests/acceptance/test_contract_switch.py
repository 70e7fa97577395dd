"""Without the reference OpenAPI document the contract checks are off: said once, and a failure in CI.

Each test runs one end-to-end test of the suite in a pytest of its own, with
ORCHESTRION_TEST_SPEC pointing where no document is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

CHECKED_TEST = "tests/acceptance/test_edge.py::test_unknown_route_is_a_twilio_shaped_404"


def _pytest(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["ORCHESTRION_TEST_SPEC"] = str(tmp_path / "absent.json")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", CHECKED_TEST, "-k", "sqlite", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_without_the_document_the_checks_are_off_and_the_header_says_so(tmp_path: Path) -> None:
    result = _pytest(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("contract checks: OFF") == 1
    assert "absent.json" in result.stdout


def test_without_the_document_ci_fails(tmp_path: Path) -> None:
    result = _pytest(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CI must check every response against it" in result.stdout
