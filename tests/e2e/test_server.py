"""What `make run` promises, on a real process: `shelfmark serve` migrates a fresh embedded
database, serves on its port, and the desk's first transactions work over real HTTP. And how
it stops behind a load balancer: SIGTERM with SHELFMARK_DRAIN_SECONDS."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    var_dir: Path


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """`shelfmark serve` on a fresh SQLite database; a test's indirect parameter adds settings."""
    port = _free_port()
    env = (
        os.environ
        | getattr(request, "param", {})
        | {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
            "SHELFMARK_PORT": str(port),
            "SHELFMARK_VAR_DIR": str(tmp_path),
        }
    )
    subprocess.run(
        [sys.executable, "-m", "shelfmark", "users", "create", "desk", "--password-stdin"],
        env=env,
        input=b"correct horse battery staple\n",
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "shelfmark", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"shelfmark serve did not come up:\n{output}")
            time.sleep(0.1)  # polling for readiness, not a timing assertion
        yield Served(url, process, tmp_path)
    finally:
        process.terminate()
        process.wait(timeout=40)


@pytest.fixture
def server(served: Served) -> str:
    return served.url


def test_a_fresh_server_serves_the_desk(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.post("/books", json={"title": "x", "author": "y"}).status_code == 401
        login = {"username": "desk", "password": "correct horse battery staple"}
        token = http.post("/auth/token", data=login).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        book = http.post("/books", json={"title": "Dune", "author": "Frank Herbert"}).json()
        http.post(
            "/patrons",
            json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
        )
        loan = http.post(f"/books/{book['id']}/borrow", json={"borrower_email": "ada@example.org"})
        assert loan.status_code == 201
        assert loan.json()["due_at"].endswith("T23:59:59Z")
        returned = http.post(f"/books/{book['id']}/return", json={})
        assert returned.json()["status"] == "returned"
        assert returned.json()["fine"] == "0.00"
        assert http.get("/docs").status_code == 200
        assert "paths" in http.get("/openapi.json").json()


def request_on(connection: socket.socket, path: str) -> bytes:
    """One HTTP/1.1 request on a connection kept alive; its answer's status line and headers.
    The body is read too (by its Content-Length), so the next answer starts clean."""
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: shelfmark.test\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += received(connection, answer)
    head, body = answer.split(b"\r\n\r\n", 1)
    head = head.lower()
    length = int(head.split(b"\r\ncontent-length:", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length:
        body += received(connection, answer + body)
    assert len(body) == length, f"more than one answer: {body!r}"
    return head


def received(connection: socket.socket, so_far: bytes) -> bytes:
    chunk = connection.recv(65536)
    assert chunk, f"the connection closed with no whole answer after {so_far!r}"
    return chunk


@pytest.mark.parametrize("served", [{"SHELFMARK_DRAIN_SECONDS": "30"}], indirect=True)
def test_sigterm_drains_refusing_new_connections_and_closing_none_itself(served: Served) -> None:
    """The kept-alive connection stays open after SIGTERM, and its next request is answered
    (with Connection: close), while a new connection is refused; the process then stops as soon
    as its last connection has gone, well before the 30 s drain."""
    port = int(served.url.rsplit(":", 1)[1])
    kept = socket.create_connection(("127.0.0.1", port), timeout=10)
    with kept:
        assert request_on(kept, "/health").startswith(b"http/1.1 200")
        served.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while True:  # until the process has stopped listening
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline, "still accepting connections 10 s after SIGTERM"
            time.sleep(0.05)  # polling, not a timing assertion
        head = request_on(kept, "/health")
        assert head.startswith(b"http/1.1 200"), head
        assert b"\r\nconnection: close" in head, head
        assert served.process.poll() is None, "stopped while a connection was still open"
    # uvicorn, its shutdown done, raises the signal it caught again: the usual way to end.
    assert served.process.wait(timeout=15) == -signal.SIGTERM


def api_processes(parent: int) -> list[int]:
    """The API processes uvicorn's supervisor (`parent`) started (not multiprocessing's
    resource tracker, its other child)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # gone meanwhile
        if ppid == parent and b"resource_tracker" not in command:
            found.append(int(stat.parent.name))
    return found


def lease_holders(path: Path) -> list[int]:
    """The processes holding an flock on the file at `path` (/proc/locks)."""
    inode = path.stat().st_ino
    holders = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1] == "FLOCK" and int(fields[5].rsplit(":", 1)[1]) == inode:
            holders.append(int(fields[4]))
    return holders


def running(pid: int) -> bool:
    """Whether the process is there and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def fresh_connection_reads(url: str, path: str, times: int) -> list[dict[str, object]]:
    """`times` answers, each on a new connection, which either process may accept."""
    answers = []
    for _ in range(times):
        with httpx.Client(base_url=url, timeout=10) as http:
            answers.append(http.get(path).json())
    return answers


@pytest.mark.parametrize(
    "served",
    [{"SHELFMARK_API_PROCESSES": "2", "SHELFMARK_CACHE_TTL_SECONDS": "3600"}],
    indirect=True,
)
def test_two_api_processes_serve_one_library_and_agree_on_it(served: Served) -> None:
    """Both processes answer on the port; their supervisor holds the background work's
    lease; a book both have cached is shown borrowed by both soon after the loan, long before
    the cache's hour would have let it go."""
    children = api_processes(served.process.pid)
    assert len(children) == 2
    assert lease_holders(served.var_dir / "background.lock") == [served.process.pid]
    with httpx.Client(base_url=served.url, timeout=10) as http:
        login = {"username": "desk", "password": "correct horse battery staple"}
        token = http.post("/auth/token", data=login).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        book = http.post("/books", json={"title": "Dune", "author": "Frank Herbert"}).json()
        http.post(
            "/patrons",
            json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
        )
        path = f"/books/{book['id']}"
        before = fresh_connection_reads(served.url, path, 40)
        assert {a["copies_available"] for a in before} == {1}
        loan = http.post(f"{path}/borrow", json={"borrower_email": "ada@example.org"})
        assert loan.status_code == 201
    deadline = time.monotonic() + 10
    while {a["copies_available"] for a in fresh_connection_reads(served.url, path, 40)} != {0}:
        assert time.monotonic() < deadline, "a process still shows the copy on the shelf"
    served.process.terminate()
    assert served.process.wait(timeout=30) == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]


@pytest.mark.parametrize("served", [{"SHELFMARK_API_PROCESSES": "2"}], indirect=True)
def test_api_processes_stop_with_a_killed_supervisor_and_free_the_port(served: Served) -> None:
    """Orphans would serve on, and keep the port from the `shelfmark serve` started next."""
    children = api_processes(served.process.pid)
    assert len(children) == 2
    served.process.kill()
    served.process.wait(timeout=10)
    deadline = time.monotonic() + 30
    try:
        while left := [pid for pid in children if running(pid)]:
            assert time.monotonic() < deadline, f"API processes outlived their supervisor: {left}"
            time.sleep(0.1)  # polling for their exit, not a timing assertion
    finally:
        for pid in filter(running, children):
            os.kill(pid, signal.SIGKILL)
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        listener.bind(("127.0.0.1", int(served.url.rsplit(":", 1)[1])))


def test_a_server_whose_restarted_api_process_cannot_start_fails(tmp_path: Path) -> None:
    """uvicorn's supervisor stops when a process it restarts fails before serving (here: the
    policy file went away since the start); the command must then fail, for the process
    manager to see it, rather than end as after a SIGTERM."""
    policy = tmp_path / "policy.toml"
    policy.write_text("")  # nothing overridden
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
        "SHELFMARK_PORT": str(port),
        "SHELFMARK_VAR_DIR": str(tmp_path),
        "SHELFMARK_API_PROCESSES": "2",
        "SHELFMARK_POLICY_FILE": str(policy),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "shelfmark", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while len(children := api_processes(process.pid)) < 2 or not _healthy(port):
            assert process.poll() is None and time.monotonic() < deadline, "did not come up"
            time.sleep(0.1)  # polling for readiness, not a timing assertion
        policy.unlink()
        os.kill(children[0], signal.SIGKILL)
        assert process.wait(timeout=60) == 3
    finally:
        process.kill()
        process.wait(timeout=10)
    assert b"policy.toml" in (process.stdout.read() if process.stdout else b"")
    assert not [pid for pid in children if running(pid)]


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
