"""./scripts/serve and ./scripts/test install the project only when pyproject.toml changed.

Run on a copy of the scripts, with a stand-in .venv whose python records pip
installs (a real install takes seconds and would touch the suite's own venv).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "clone"
    (root / "scripts").mkdir(parents=True)
    for name in ("_venv.sh", "serve"):
        shutil.copy(REPO_ROOT / "scripts" / name, root / "scripts" / name)
    (root / "pyproject.toml").write_text('[project]\nname = "orchestrion"\n')
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$*" >> "$(dirname "$0")/../pip.log"; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    (bin_dir / "orchestrion").write_text('#!/usr/bin/env bash\necho "orchestrion $*"\n')
    for script in (python, bin_dir / "orchestrion"):
        script.chmod(0o755)
    return root


def _serve(root: Path) -> str:
    result = subprocess.run(
        [str(root / "scripts" / "serve"), "--port", "9"], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def _installs(root: Path) -> list[str]:
    log = root / ".venv" / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_serve_installs_once_then_only_when_pyproject_changes(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert _serve(root) == "orchestrion serve --port 9\n"
    assert _serve(root) == "orchestrion serve --port 9\n"
    assert _installs(root) == ["-m pip install --quiet --disable-pip-version-check -e ."]

    (root / "pyproject.toml").write_text('[project]\nname = "orchestrion"\ndependencies = ["x==1"]\n')
    _serve(root)
    assert len(_installs(root)) == 2


def test_serve_uses_an_install_made_with_the_test_extras(tmp_path: Path) -> None:
    root = _project(tmp_path)
    subprocess.run(
        ["bash", "-c", ". scripts/_venv.sh && ensure_venv test"], cwd=root, check=True, timeout=60, capture_output=True
    )
    _serve(root)
    assert _installs(root) == ["-m pip install --quiet --disable-pip-version-check -e .[test]"]
