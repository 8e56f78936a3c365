"""What `make run` promises, on a real process: `shelfmark serve` migrates a fresh embedded
database, serves on its port, and the desk's first transactions work over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}",
        "SHELFMARK_PORT": str(port),
        "SHELFMARK_VAR_DIR": str(tmp_path),
    }
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
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


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
