"""The host lease: one holder at a time, let go on release and when the holder dies."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from shelfmark.seedwork.infrastructure.host_lease import HostLease

HOLD = """
import sys, time
from pathlib import Path
from shelfmark.seedwork.infrastructure.host_lease import HostLease
assert HostLease(Path(sys.argv[1])).try_acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_one_holder_at_a_time_until_it_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "var" / "background.lock"
    first, second = HostLease(path), HostLease(path)

    assert first.try_acquire()
    assert first.try_acquire()  # holding it already
    assert not second.try_acquire()
    assert (first.held, second.held) == (True, False)

    first.release()
    assert second.try_acquire()
    assert not first.try_acquire()
    second.release()


def test_a_holder_killed_outright_lets_it_go(tmp_path: Path) -> None:
    path = tmp_path / "background.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        lease = HostLease(path)
        assert not lease.try_acquire()

        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)

        assert lease.try_acquire()
        lease.release()
    finally:
        holder.kill()
        holder.wait(timeout=10)
