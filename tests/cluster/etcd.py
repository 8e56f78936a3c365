"""A real etcd server for tests (the etcd-server Debian package), and a few gateway calls."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from shelfmark.settings_sources import b64
from tests.support.databases import service_missing

START_SECONDS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Etcd:
    url: str
    process: subprocess.Popen[bytes]

    def put(self, key: str, value: str) -> None:
        response = httpx.post(f"{self.url}/v3/kv/put", json={"key": b64(key), "value": b64(value)})
        response.raise_for_status()

    def delete(self, key: str) -> None:
        response = httpx.post(f"{self.url}/v3/kv/deleterange", json={"key": b64(key)})
        response.raise_for_status()


@contextmanager
def etcd_server(directory: Path) -> Iterator[Etcd]:
    """etcd on two free loopback ports with its data in `directory`; stopped afterwards."""
    binary = shutil.which("etcd") or ("/usr/bin/etcd" if os.path.exists("/usr/bin/etcd") else None)
    if binary is None:
        service_missing("etcd (apt-get install etcd-server)", FileNotFoundError("etcd"))
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    process = subprocess.Popen(
        [
            str(binary),
            "--name=test",
            f"--data-dir={directory / 'etcd'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=test=http://127.0.0.1:{peer}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                service_missing("etcd", RuntimeError(f"did not start (exit {process.poll()})"))
            time.sleep(0.1)
        yield Etcd(url, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
