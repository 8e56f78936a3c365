"""`make bench-cluster`: scaled mode under the same 93/7 library mix, step by step.

What it does, every part bounded in time and stopped by itself:

1. A cluster of its own from `deploy/cluster.sh` (var/cluster-bench, ports from 18300, database
   shelfmark_bench_cluster dropped and made again, Redis database 13 flushed, broker prefix
   shelfmark-bench), so a developer's `make cluster-up` and `make test-cluster` are left alone:
   PgBouncer in transaction mode in front of the local PostgreSQL, etcd, SHELFMARK_API_PROCESSES
   API processes (default 2) behind nginx, and the relay, consumer and scheduler workers. The
   API processes get the same raised request and login limits as `make bench`.
2. The data set of `make bench` (bench/run.py's `build_data_set`), written straight to
   PostgreSQL, then `VACUUM ANALYZE` of the tables it filled (`_vacuum` says why not all).
3. A warm-up, then the mix at each concurrency step through nginx, driven by wrk
   (bench/wrk/mix.lua, as `make bench`); one step of it with Locust (the same locustfile) for
   each kind of request's latencies; and wrk on the two cached reads through nginx.
4. bench/results/<date>-cluster.md, .csv and .png; the cluster is stopped however the run ends.

Nothing is pinned: the API processes, the workers, PostgreSQL, Redis, RabbitMQ, nginx and the
generator share the two cores, as they would on one small host. Server CPU is the sum over the
cluster's own processes (API processes, workers, nginx, PgBouncer, etcd); PostgreSQL, Redis and
RabbitMQ are the machine's shared servers, so the machine's CPU column is the one to read.
The database is dropped at the end and the broker's queues of the prefix purged at the start
(a run stopped halfway leaves events for rows the next run no longer has).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import asyncpg
import redis
import run as harness

DEPLOY = harness.ROOT / "deploy" / "cluster.sh"
CLUSTER = {
    "SHELFMARK_CLUSTER_DIR": "var/cluster-bench",
    "SHELFMARK_CLUSTER_PORT_BASE": "18300",
    "SHELFMARK_CLUSTER_DB": "shelfmark_bench_cluster",
    "SHELFMARK_CLUSTER_PREFIX": "shelfmark-bench",
    "SHELFMARK_CLUSTER_REDIS_URL": "redis://127.0.0.1:6379/13",
    "SHELFMARK_CLUSTER_REQUEST_LIMIT": "100000000/minute",
}
#: Inherited by every process `cluster.sh up` starts (its env file does not set them).
SERVER_ENV = {
    "SHELFMARK_LOGIN_LIMIT_PER_CLIENT": "1000000/minute",
    "SHELFMARK_LOGIN_LIMIT_PER_ACCOUNT": "1000000/minute",
    "SHELFMARK_ACCESS_TOKEN_MINUTES": "1440",
    "SHELFMARK_LOG_LEVEL": "warning",
}


@dataclass
class Cluster:
    """The running cluster as a load target: nginx's URL, and its processes by pid file."""

    name: str
    url: str
    run_dir: Path

    def _pid(self, file: Path) -> int | None:
        try:
            return int(file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _pids(self, pattern: str) -> list[int]:
        """The processes of these pid files, not their supervisors (deploy/supervise.sh)."""
        files = sorted(self.run_dir.glob(pattern))
        return [p for f in files if not f.name.endswith(".supervisor.pid") and (p := self._pid(f))]

    def api_pids(self) -> list[int]:
        return self._pids("api-*.pid")

    def pids(self) -> list[int]:
        own = [*self.api_pids(), *self._pids("worker-*.pid")]
        own += self._pids("pgbouncer.pid") + self._pids("etcd.pid")
        for nginx in self._pids("nginx.pid"):
            own += [nginx, *harness.children(nginx)]
        return own


#: The CPU table's window ends this long before the measured part does.
CPU_WINDOW_MARGIN = 1.0
#: ... and, with wrk, starts this long after wrk was started.
WRK_START_MARGIN = 1.0

#: Every process on the machine, by kind: the first of these its command line contains.
PROCESS_KINDS = (
    ("API processes", "shelfmark serve"),
    ("consumer worker", "worker consume"),
    ("relay worker", "worker relay"),
    ("scheduler worker", "worker scheduler"),
    ("generator (Locust)", "/locust "),
    ("generator (wrk)", "wrk -t1"),
    ("PgBouncer", "pgbouncer"),
    ("PostgreSQL", "postgres"),
    ("Redis", "redis-server"),
    ("RabbitMQ", "beam.smp"),
    ("nginx", "nginx:"),
    ("etcd", "etcd "),
)


def cpu_by_kind() -> dict[str, float]:
    """CPU seconds so far of every process on the machine, summed by PROCESS_KINDS (the rest,
    kernel threads included, as "anything else")."""
    seconds: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            used = harness.cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
        kind = next((k for k, mark in PROCESS_KINDS if mark in command), "anything else")
        seconds[kind] = seconds.get(kind, 0.0) + used
    return seconds


def cluster_env() -> dict[str, str]:
    return os.environ | CLUSTER | SERVER_ENV


def deploy(action: str) -> None:
    subprocess.run(["bash", str(DEPLOY), action], env=cluster_env(), check=True, timeout=600)


def settings_of(directory: Path) -> dict[str, str]:
    """The variables cluster.sh wrote to its env file."""
    found = {}
    for line in (directory / "env").read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = value.strip("'")
    return found


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=5432, user="postgres", database="postgres"
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def drop_database() -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{CLUSTER["SHELFMARK_CLUSTER_DB"]}" WITH (FORCE)'))


async def _purge_queues(prefix: str) -> None:
    """Empties this prefix's queue of every consumer the application has, and their dead
    letters, where they exist."""
    from shelfmark.bootstrap import bootstrap
    from shelfmark.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = bootstrap(Settings(var_dir=Path(tmp), database_url=f"sqlite:///{tmp}/x"))
        names = [c.name for c in app.events.consumers]
        await app.dispose()
    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        for name in [f"{prefix}.{n}{dead}" for n in names for dead in ("", ".dead")]:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
                await queue.purge()
            except aio_pika.exceptions.ChannelClosed:
                continue  # no such queue yet


def fresh_stores() -> None:
    drop_database()
    redis.Redis.from_url(CLUSTER["SHELFMARK_CLUSTER_REDIS_URL"]).flushdb()
    asyncio.run(_purge_queues(CLUSTER["SHELFMARK_CLUSTER_PREFIX"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--patrons", type=int, default=10_000)
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--logins", type=int, default=2_000, help="patrons given a password")
    parser.add_argument("--users", default="8,16,32,64", help="comma-separated steps")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--wrk-seconds", type=float, default=15.0)
    parser.add_argument("--wrk-connections", type=int, default=32)
    parser.add_argument("--out", type=Path, default=harness.RESULTS)
    args = parser.parse_args()
    steps_users = [int(u) for u in args.users.split(",")]
    settle = 5.0
    started = time.monotonic()
    rng = random.Random(9)  # noqa: S311 (fake data)
    directory = harness.ROOT / CLUSTER["SHELFMARK_CLUSTER_DIR"]

    with tempfile.TemporaryDirectory(prefix="shelfmark-bench-cluster-") as tmp:
        work = Path(tmp)
        fresh_stores()
        try:
            harness.log("starting the cluster (deploy/cluster.sh up)")
            deploy("up")
            cluster = settings_of(directory)
            target = Cluster("cluster", cluster["SHELFMARK_E2E_URL"], directory / "run")
            env = cluster_env() | {
                "DATABASE_URL": cluster["SHELFMARK_CLUSTER_DIRECT_URL"],
                "SHELFMARK_DB_PGBOUNCER": "false",
                "SHELFMARK_VAR_DIR": str(work / "var"),
            }
            t0 = time.monotonic()
            fixtures = harness.build_data_set(args, env, rng)
            database = CLUSTER["SHELFMARK_CLUSTER_DB"]
            analyzed, autovacuum = asyncio.run(_vacuum(database))
            seed_seconds = time.monotonic() - t0
            fixtures_file = work / "fixtures.json"
            fixtures_file.write_text(json.dumps(fixtures))
            locust_env = env | {"BENCH_FIXTURES": str(fixtures_file)}
            processes = len(target.api_pids())
            harness.log(f"cluster at {target.url}: {processes} API processes, {target.pids()}")
            wrk_data = harness.wrk_mix_data(target.url, fixtures, work / "wrk-mix.lua", rng)

            def mix(label: str, users: int, seconds: float, locust: bool = False) -> harness.Step:
                # wrk measures from its start (its logins were made before); Locust once its
                # users have logged in. Both ends inside the measured part, while the
                # generator still runs (/proc forgets a process that has exited).
                measuring = settle + users / 8 if locust else 0.0
                ends = (
                    measuring if locust else WRK_START_MARGIN,
                    measuring + seconds - CPU_WINDOW_MARGIN,
                )
                snapshots: list[tuple[float, dict[str, float]]] = []
                timers = [
                    threading.Timer(at, lambda: snapshots.append((time.monotonic(), cpu_by_kind())))
                    for at in ends
                ]
                for timer in timers:
                    timer.start()
                if locust:
                    step = harness.run_locust(
                        label,
                        target,
                        users,
                        seconds,
                        measuring,
                        harness.LOCUSTFILE,
                        harness.MIX_USERS,
                        locust_env,
                        work,
                        [],
                    )
                else:
                    step = harness.run_wrk_mix(label, target, users, seconds, wrk_data, work, [])
                for timer in timers:
                    timer.join()
                (start, before), (end, after) = sorted(snapshots, key=lambda s: s[0])
                cpu[label] = {k: (after[k] - before.get(k, 0.0)) / (end - start) for k in after}
                harness.catch_up(step, lambda: asyncio.run(_backlog(database)))
                return step

            cpu: dict[str, dict[str, float]] = {}
            harness.log("warming up: 16 users, 10 s")
            mix("warmup", 16, 10)
            steps = []
            for users in steps_users:
                harness.log(f"mix step: {users} users, {args.step_seconds:.0f} s")
                steps.append(mix(f"{users}", users, args.step_seconds))
                harness.log("  " + " | ".join(harness.row(steps[-1])))
            users = harness.DETAIL_USERS
            harness.log(f"the mix with Locust, for each request's figures: {users} users")
            detail = mix("locust", users, args.step_seconds, locust=True)
            harness.log("  " + " | ".join(harness.row(detail)))
            reads = {
                "search": f"/books?q={harness.SEARCH_TERM}",
                "book": f"/books/{fixtures['book_ids'][0]}",
            }
            wrk_runs = {}
            for name, path in reads.items():
                harness.capture(target.url + path)  # fills the cache
                harness.log(f"read path {path}: wrk, {args.wrk_connections} connections")
                wrk_runs[name] = harness.run_wrk(
                    target.url + path, args.wrk_connections, args.wrk_seconds, []
                )
                harness.log(f"  {wrk_runs[name]}")
        finally:
            deploy("down")
            drop_database()
    write_report(
        args,
        steps,
        detail,
        wrk_runs,
        reads,
        processes,
        seed_seconds,
        f"`VACUUM ANALYZE` of the tables it filled ({', '.join(analyzed) or 'none'}), as"
        " autovacuum would"
        f" (the server's autovacuum: {autovacuum}; see `_vacuum`)",
        time.monotonic() - started,
        settle,
        cpu,
    )


async def _backlog(database: str) -> tuple[int, int]:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=5432, user="postgres", database=database
    )
    try:
        row = await connection.fetchrow(harness.BACKLOG_SQL)
    finally:
        await connection.close()
    assert row is not None
    return int(row[0]), int(row[1])


#: The tables autovacuum would analyze now, by its default rule (more than 50 rows changed plus
#: 10% of the table since the last analyze).
ANALYZE_DUE = """
SELECT format('%I.%I', s.schemaname, s.relname) AS name
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
"""


async def _vacuum(database: str) -> tuple[list[str], str]:
    """VACUUM ANALYZE of the tables the data set filled, as autovacuum would do by itself a
    little later; returns them and the server's autovacuum setting. Not a blanket `VACUUM
    ANALYZE`: it would record the empty outbox, inbox and notifications as empty, and where
    autovacuum is off (as on the machines this runs on) nothing would analyze them again.
    The plans the workers' connections cache for them while they are empty (sequential scans)
    would then outlive their growth: by the end of a run, every event had the relay and the
    consumers read the whole outbox and inbox, and throughput fell step by step."""
    connection = await asyncpg.connect(
        host="127.0.0.1", port=5432, user="postgres", database=database
    )
    try:
        tables = sorted(row["name"] for row in await connection.fetch(ANALYZE_DUE))
        for table in tables:
            await connection.execute(f"VACUUM ANALYZE {table}", timeout=600)
        autovacuum = str(await connection.fetchval("SHOW autovacuum"))
    finally:
        await connection.close()
    return tables, autovacuum


def write_report(
    args: argparse.Namespace,
    steps: list[harness.Step],
    detail: harness.Step,
    wrk_runs: dict[str, harness.WrkRun | None],
    reads: dict[str, str],
    processes: int,
    seed_seconds: float,
    analysis: str,
    total_seconds: float,
    settle: float,
    cpu: dict[str, dict[str, float]],
) -> None:

    run = harness.report_of(args.out, "cluster", harness.make_command("bench-cluster"))
    now, stem = run.now, run.stem
    harness.write_csv(Path(f"{stem}.csv"), [*steps, detail])
    harness.plot(steps, {}, Path(f"{stem}.png"), f"Shelfmark scaled mode, 93/7 mix, {now:%Y-%m-%d}")
    busiest = max(steps, key=lambda s: s.users)
    at_32 = next((s for s in steps if s.users == 32), None)
    wrk_lines = [
        f"| `GET {path}` | {wrk.rps:.0f} | {wrk.p50:.1f} | {wrk.p99:.1f} | "
        f"{wrk.not_2xx}, {wrk.socket_errors} |"
        for name, path in reads.items()
        if (wrk := wrk_runs.get(name)) is not None
    ] or ["| wrk is not installed (`apt-get install wrk`) | | | | |"]
    goal_64 = (
        f"{busiest.rps:.0f} requests/s at {busiest.users} users with "
        f"{busiest.failures} failed (goal: 2,500 at 64 with 0 errors)"
    )
    goal_32 = f"p99 {at_32.p99:.0f} ms at 32 users (goal: 50 ms)" if at_32 else "no 32-user step"
    title = "scaled mode (PostgreSQL via PgBouncer, Redis, RabbitMQ, nginx)"
    machine = (
        f"{os.cpu_count()} cores, {harness.cpu_model()}, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    text = f"""# Benchmark: {title}, {now:%Y-%m-%d %H:%M} UTC

Written by `bench/cluster.py`; regenerate with `{run.command}`. Raw numbers in
[{stem.name}.csv]({stem.name}.csv), the plot in [{stem.name}.png]({stem.name}.png).

Against the goals of #9: {goal_64}; {goal_32}.

## Setup

- machine: {machine}
- commit: {run.commit}
- command: `{run.command}` ({total_seconds:.0f} s in all)
- topology (`deploy/cluster.sh`): nginx (keep-alive upstreams) over {processes} API processes
  (`shelfmark serve`, uvicorn, one process each), PgBouncer in transaction mode in front of the
  machine's PostgreSQL, Redis as the read cache and rate-limit store, RabbitMQ for the events,
  etcd for live settings, and the relay, consumer and scheduler workers. Request and login
  limits raised to millions per minute (every request comes from 127.0.0.1), tokens good for
  24 h, logs at warning.
- data: as `make bench` ({args.books:,} books, {args.patrons:,} patrons, {args.loans:,} active
  loans, {args.logins:,} patron logins), written straight to PostgreSQL, then
  {analysis}; {seed_seconds:.0f} s to build.
- generator: {harness.generator_text("wrk", settle, args.step_seconds)} Through nginx.
- pinning: none; everything shares the {os.cpu_count()} cores.
- server CPU: the cluster's own processes (API processes, workers, nginx, PgBouncer, etcd),
  user+system time over the measured wall time (100% = one core); PostgreSQL, Redis and
  RabbitMQ are not in it, the machine CPU column (all cores, everything) is. Peak RSS: the
  largest API process, sampled every 0.2 s.

## The 93/7 mix, step by step

Latencies in ms, errors = failed requests / all requests. A business
refusal (409) is an expected answer and not an error. The last three columns are what the
server still owed when the step's load stopped, counted in its database: events its outbox
relay had not yet handed to the consumers, e-mails queued, and the seconds it then took to
owe nothing (e-mail goes out every 2 s, so a server that keeps up may owe a couple of
seconds' worth). A step whose backlog grows with its length measured a rate the server
cannot keep.

{harness.table(steps)}

![latency against throughput]({stem.name}.png)

Each request, {harness.detail_text("wrk", detail)}:

{harness.table([detail])}

| request | count | failures | p50 ms | p95 ms | p99 ms |
|---|---|---|---|---|---|
{chr(10).join(harness.endpoint_lines(detail))}

## Where the machine's CPU went

Every process on the machine, by kind, over each step's measured part (read off `/proc`): its
share of one core, and its CPU time per request of the mix.

{chr(10).join(cpu_lines(steps, cpu))}

## Cached reads through nginx, with wrk

wrk, one thread, {args.wrk_connections} keep-alive connections, {args.wrk_seconds:.0f} s, after
one request has filled the cache. Non-2xx answers and socket errors are listed because wrk
counts them in its RPS.

| read | RPS | p50 ms | p99 ms | non-2xx, socket errors |
|---|---|---|---|---|
{chr(10).join(wrk_lines)}
"""
    Path(f"{stem}.md").write_text(text)
    print(text)
    harness.log(f"wrote {stem}.md, .csv and .png")


def cpu_lines(steps: list[harness.Step], cpu: dict[str, dict[str, float]]) -> list[str]:
    """A row per kind of process, a column per step: share of one core (`cpu` holds them), and
    that share's time per request at the step's rate."""
    measured = [s for s in steps if s.rps and s.label in cpu]
    if not measured:
        return ["(no step measured)"]
    busiest = max(measured, key=lambda s: s.users)
    kinds = sorted(cpu[busiest.label], key=lambda k: -cpu[busiest.label][k])
    lines = [
        "| process | " + " | ".join(f"{s.users} users" for s in measured) + " |",
        "|---|" + "---|" * len(measured),
    ]
    for kind in kinds:
        cells = []
        for step in measured:
            share = cpu[step.label].get(kind, 0.0)
            cells.append(f"{share:.0%}, {share / step.rps * 1e6:,.0f} µs")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
