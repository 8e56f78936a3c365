"""Small steps of deploy/cluster.sh that are easier in Python: waiting with a deadline for an
HTTP answer, a TCP port or a PostgreSQL login, and creating the cluster's database.

    cluster_tool.py wait-http URL [--timeout S]      200 from URL
    cluster_tool.py wait-tcp HOST:PORT [--timeout S] a TCP connect succeeds
    cluster_tool.py wait-pg DSN [--timeout S]        `SELECT 1` answers through DSN
    cluster_tool.py create-db DSN NAME               CREATE DATABASE NAME unless it exists
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
import urllib.error
import urllib.request

import asyncpg  # type: ignore[import-untyped]


def _until(deadline: float, probe: object, what: str) -> int:
    last = ""
    while time.monotonic() < deadline:
        try:
            if probe():  # type: ignore[operator]
                return 0
        except Exception as error:
            last = repr(error)
        time.sleep(0.2)
    print(f"cluster: {what} not ready in time {last}", file=sys.stderr)
    return 1


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URLs)
        return bool(response.status == 200)


def _tcp_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=1):
        return True


def _pg_answers(dsn: str) -> bool:
    async def probe() -> bool:
        connection = await asyncpg.connect(dsn, timeout=2, statement_cache_size=0)
        try:
            return bool(await connection.fetchval("SELECT 1") == 1)
        finally:
            await connection.close()

    return asyncio.run(probe())


async def _create_db(dsn: str, name: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
            print(f"cluster: created database {name}")
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["wait-http", "wait-tcp", "wait-pg", "create-db"])
    parser.add_argument("target")
    parser.add_argument("name", nargs="?")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    if args.step == "wait-http":
        return _until(deadline, lambda: _http_ok(args.target), args.target)
    if args.step == "wait-tcp":
        return _until(deadline, lambda: _tcp_open(args.target), args.target)
    if args.step == "wait-pg":
        return _until(deadline, lambda: _pg_answers(args.target), "PostgreSQL via " + args.target)
    asyncio.run(_create_db(args.target, args.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
