"""SQLite's disk filling up under load: writes answer 503 with a clear message, reads go on, nothing accepted is lost.

The database lives on a small tmpfs of the case's own (mounting one needs
root, as in CI); a filler file takes the space that is left while clients
create Actions. Once writes are refused, reads still answer; when the filler
is removed, writes resume without a restart, every accepted Action ends, and
``PRAGMA integrity_check`` finds the database whole.
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from orchestrion.store.database import DISK_FULL
from orchestrion.store.migrate import upgrade
from tests.acceptance.processes import Processes
from tests.chaos.support import ACTION_BODY, Load, count, missing, setup_conversations, wait_until
from tests.conftest import new_account

pytestmark = pytest.mark.slow

SIZE = "24m"


@pytest.fixture
def small_disk() -> Iterator[Path]:
    mount = Path(tempfile.mkdtemp(prefix="orchestrion-chaos-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        mount.rmdir()
        missing(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): the disk-full case needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)
        mount.rmdir()


def _fill(disk: Path) -> Path:
    """Take every byte left on the disk."""
    filler = disk / "filler"
    chunk = b"\0" * (1 << 16)
    try:
        # Unbuffered: a buffered file keeps what the full disk refused and fails again when closed.
        opened = filler.open("wb", buffering=0)
    except OSError as error:  # the database (its WAL, on a busy machine) took the last bytes already
        assert error.errno == errno.ENOSPC
        return filler
    with opened as out:
        try:
            while True:
                out.write(chunk)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    with contextlib.suppress(OSError), filler.open("ab", buffering=0) as out:  # the last few bytes too
        while True:
            out.write(b"\0")
    return filler


def test_a_full_disk_refuses_writes_with_503_while_reads_go_on_and_loses_nothing(
    small_disk: Path, chaos_processes: Callable[[str], Processes], figures: Callable[[str], None]
) -> None:
    database = small_disk / "orchestrion.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    processes = chaos_processes(url)
    server, api = processes.serve_process()
    creds = new_account(url)
    auth = (creds.account_sid, creds.auth_token)
    conversations = setup_conversations(api, auth, 40)

    actions = f"{api}/v2/Conversations/{conversations[0]}/Actions"
    with httpx.Client(auth=auth, timeout=10) as http:
        before = http.post(actions, json=ACTION_BODY).json()["id"]
        load = Load([api], auth, conversations).start()
        try:
            load.wait_accepted(50)
            filler = _fill(small_disk)
            wait_until(lambda: load.statuses[503] > 0, "writes to be refused")
            refused = http.post(actions, json=ACTION_BODY)
            listed = http.get(f"{api}/v2/Conversations", params={"pageSize": 5})
            polled = http.get(f"{actions}/{before}")
            filler.unlink(missing_ok=True)  # space returns
            load.wait_accepted(len(load.accepted) + 50)
        finally:
            load.stop()

    outcome = count(url, {**load.accepted, "(before the disk filled)": before}, conversations)
    Processes.terminate(server)  # its connections closed before the file is checked
    integrity = sqlite3.connect(database).execute("PRAGMA integrity_check").fetchone()[0]
    figures(outcome.line(answers_503=load.statuses[503], bad_5xx=len(load.bad_5xx), integrity=integrity))
    assert (refused.status_code, refused.json()["code"], refused.json()["message"]) == (503, 20503, DISK_FULL)
    assert "Retry-After" in refused.headers
    assert (listed.status_code, polled.status_code) == (200, 200)
    assert load.bad_5xx == []
    assert (outcome.lost, outcome.duplicated, outcome.failed) == (0, 0, 0)
    assert integrity == "ok"
