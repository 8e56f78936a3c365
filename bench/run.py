"""`make bench`: the embedded mode under the 93/7 library mix, step by step, plus a ceiling.

What it does, every part bounded in time and stopped by itself:

1. A fresh SQLite database and var dir in a temporary directory; `shelfmark seed` loads the
   books, copies and patrons; `shelfmark users create --password-stdin` makes the librarian;
   then a bench-only bulk insert (this file, `add_loans_and_logins`) adds the active loans (open
   loans on distinct circulating copies, due in the future, version 1, the category's loan
   numbers from the built-in policy) and patron logins (one Argon2id hash, made with the
   server's own hasher and parameters, shared by every bench patron).
2. `python -m shelfmark serve` on a free loopback port, the scheduler off, the rate and login
   limits raised (one client address sends everything), tokens good for a day.
3. A warm-up, then the mix at each concurrency step, driven by wrk (bench/wrk/mix.lua, the
   staff and 16 patrons logged in first) or Locust (bench/locust/locustfile.py: FastHttpUser,
   one process; each step lets the users log in for a few seconds and resets the statistics).
   Each step measures: requests, error rate, p50/p95/p99, RPS, server CPU (from
   /proc/<pid>/stat, every server process), peak server RSS (VmRSS sampled every 0.2 s, the
   largest process) and the generator's CPU.
4. The ceiling: bench/ceiling_app.py serves the bytes Shelfmark answered to the same reads
   (`GET /books?q=...`, `GET /books/{id}`) on the same uvicorn settings; both servers are driven
   by the same read-only Locust user, then by wrk, at the same concurrency, and the ratios are
   reported.
5. bench/results/<date>-embedded.md, .csv and .png (latency percentiles against throughput).

The mix steps are driven by wrk (bench/wrk/mix.lua, the same tasks and weights as the Locust
user, which then runs one step for each kind of request's figures); `--generator locust`
drives them all with Locust. One API process per core by default (`--processes N`,
`SHELFMARK_API_PROCESSES`), the bare app as many; with one, the server is pinned to core 0 and
the generator to core 1 (`taskset`), when taskset exists and there are 2+ cores; with more,
nothing is pinned.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import platform
import random
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
LOCUSTFILE = BENCH / "locust" / "locustfile.py"
READPATH_LOCUSTFILE = BENCH / "locust" / "readpath.py"
MIX_USERS = ["Library"]
STAFF = {"username": "bench-librarian", "password": "bench-librarian-password"}
PATRON_PASSWORD = "bench-patron-password"  # noqa: S105 (a throwaway database's fixture)
SEARCH_TERM = "garden"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinning(processes: int) -> tuple[list[str], list[str], str]:
    """taskset prefixes for the server and the generator, and a sentence saying what was done."""
    cores = os.cpu_count() or 1
    if processes > 1:
        return [], [], f"not pinned: the server's {processes} processes and the generator share"
    if shutil.which("taskset") and cores >= 2:
        generator = "1" if cores == 2 else f"1-{cores - 1}"
        return (
            ["taskset", "-c", "0"],
            ["taskset", "-c", generator],
            f"server pinned to core 0, generator to core(s) {generator} with taskset",
        )
    return [], [], "not pinned (taskset missing or a single core): server and generator share"


# --- the data set -----------------------------------------------------------------------------


def add_loans_and_logins(url: str, loans: int, logins: int, rng: random.Random) -> dict[str, Any]:
    """Bench-only bulk insert of active loans and patron accounts into the database at `url`
    (the application's own URL: SQLite or PostgreSQL); returns the fixtures."""
    return asyncio.run(_add_loans_and_logins(url, loans, logins, rng))


async def _add_loans_and_logins(
    url: str, loans: int, logins: int, rng: random.Random
) -> dict[str, Any]:
    from sqlalchemy import select

    from shelfmark.access.infrastructure.hashing import Argon2PasswordHasher
    from shelfmark.access.infrastructure.orm import accounts
    from shelfmark.catalog.infrastructure.orm import books, copies
    from shelfmark.entrypoints.seeding import ADJECTIVES, LAST_NAMES, NOUNS
    from shelfmark.lending.infrastructure.orm import loans as loan_table
    from shelfmark.lending.infrastructure.policy_source import load_policy
    from shelfmark.patrons.infrastructure.orm import patrons
    from shelfmark.seedwork.infrastructure.database import create_engines

    policy = load_policy(None)
    rules = policy.library
    engines = create_engines(url)
    engine = engines.write
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        circulating = (
            await connection.execute(
                select(
                    copies.c.id, copies.c.book_id, copies.c.barcode, copies.c.replacement_cost_cents
                )
                .where(copies.c.circulation == "circulating")
                .order_by(copies.c.barcode)
            )
        ).all()
        people = (
            await connection.execute(
                select(patrons.c.id, patrons.c.email, patrons.c.category).order_by(patrons.c.email)
            )
        ).all()
        book_ids = (await connection.scalars(select(books.c.id).order_by(books.c.isbn))).all()
        if loans > len(circulating) or not people:
            raise SystemExit(f"cannot open {loans} loans on {len(circulating)} circulating copies")
        loan_rows = []
        for i, copy in enumerate(rng.sample(circulating, loans)):
            patron = people[i % len(people)]  # 2 loans each for 20,000 loans over 10,000 patrons
            category = policy.for_category(patron.category)
            borrowed_at = now - timedelta(seconds=rng.randrange(10 * 24 * 3600))
            loan_rows.append(
                {
                    "id": uuid.uuid4(),
                    "book_id": copy.book_id,
                    "copy_id": copy.id,
                    "barcode": copy.barcode,
                    "patron_id": patron.id,
                    "borrowed_at": borrowed_at,
                    # The period's length from the borrow, not moved to the closing hour or past
                    # closed days as the domain does; at least four days ahead either way.
                    "due_at": borrowed_at + timedelta(days=category.loan_period_days),
                    "returned_at": None,
                    "status": "active",
                    "renewals_used": 0,
                    "renewals_allowed": category.renewals,
                    "loan_period_days": category.loan_period_days,
                    "fine_per_day_cents": int(rules.fine_per_day * 100),
                    "fine_grace_days": rules.fine_grace_days,
                    "fine_cap_cents": int(rules.fine_cap * 100),
                    "replacement_cost_cents": copy.replacement_cost_cents,
                    "fines_assessed_cents": 0,
                    "fine_cents": None,
                    "lost_at": None,
                    "due_soon_notice_for": None,
                    "version": 1,
                }
            )
        for start in range(0, len(loan_rows), 5_000):
            await connection.execute(loan_table.insert(), loan_rows[start : start + 5_000])
        # The server's own hasher and parameters, hashed once for every bench patron.
        password_hash = Argon2PasswordHasher().hash(PATRON_PASSWORD)
        with_login = rng.sample(people, min(logins, len(people)))
        await connection.execute(
            accounts.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "username": p.email,
                    "role": "patron",
                    "password_hash": password_hash,
                    "patron_id": p.id,
                    "disabled": False,
                    "version": 1,
                }
                for p in with_login
            ],
        )
    await engines.dispose()
    return {
        "staff": STAFF,
        "patron_password": PATRON_PASSWORD,
        "patrons": [{"id": str(p.id), "email": p.email} for p in with_login],
        "book_ids": [str(b) for b in rng.sample(list(book_ids), min(5_000, len(book_ids)))],
        "search_terms": sorted({w.lower() for w in (*NOUNS, *ADJECTIVES, *LAST_NAMES)}),
    }


# --- processes and measurements ---------------------------------------------------------------


def server_cpu_seconds(server: Target) -> float:
    """The CPU time of the target's server processes so far (one that has gone counts 0)."""
    total = 0.0
    for pid in server.pids():
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def children(parent: int) -> list[int]:
    """The processes whose parent is `parent`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def busy_and_total_ticks() -> tuple[int, int]:
    """The whole machine's CPU time so far (all cores), busy and in all, from /proc/stat: user,
    nice, system, idle, iowait, irq, softirq and steal (guest time is inside user already).
    Idle, iowait and steal (a virtual machine's time taken by its host) are not busy."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4] + ticks[7]
    return sum(ticks) - idle, sum(ticks)


def largest_rss_mb(pids: list[int]) -> float:
    """The RSS of the largest of these processes (0 for one that has gone)."""
    sizes = [0.0]
    for pid in pids:
        with contextlib.suppress(OSError):
            sizes.append(rss_mb(pid))
    return max(sizes)


class RssSampler(threading.Thread):
    """Samples the RSS of the target's server processes every `every` s until stopped; keeps
    the peak of the largest one, and every sample (seconds since the start, MB)."""

    def __init__(self, pids: Callable[[], list[int]], every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pids, self.every, self.peak, self.done = pids, every, 0.0, threading.Event()
        self.samples: list[tuple[float, float]] = []
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.done.wait(self.every):
            size = largest_rss_mb(self.pids())
            self.samples.append((time.monotonic() - self.started, size))
            self.peak = max(self.peak, size)

    def stop(self) -> float:
        self.done.set()
        self.join(timeout=5)
        return max(self.peak, largest_rss_mb(self.pids()))


class Target(Protocol):
    """What a load step runs against: a URL, the processes whose CPU counts as the server's,
    and the API processes among them (their peak RSS is reported)."""

    name: str
    url: str

    def pids(self) -> list[int]: ...

    def api_pids(self) -> list[int]: ...


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited: see {self.log}\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready after {timeout:.0f}s: see {self.log}")

    def pids(self) -> list[int]:
        """The server's process and, with several API processes, uvicorn's children of it."""
        return [self.process.pid, *children(self.process.pid)]

    def api_pids(self) -> list[int]:
        return self.pids()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start(name: str, command: list[str], env: dict[str, str], log_dir: Path) -> Server:
    port = free_port()
    log_path = log_dir / f"{name}.log"
    handle = log_path.open("wb")
    process = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    handle.close()
    return Server(name, process, f"http://127.0.0.1:{port}", log_path)


@dataclass
class Step:
    label: str
    users: int
    requests: int = 0
    failures: int = 0
    p50: float = 0
    p95: float = 0
    p99: float = 0
    rps: float = 0
    server_cpu: float = 0  # share of one core
    server_rss_mb: float = 0
    generator_cpu: float = 0  # share of one core
    machine_cpu: float = 0  # share of all cores, everything on the machine
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (s, MB) of the largest
    mix: dict[str, Any] = field(default_factory=dict)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    #: What the server still owed when the load stopped (`catch_up`): events not yet handed to
    #: the consumers, e-mails queued, and the seconds until it owed nothing (inf: not within
    #: CATCH_UP_LIMIT_SECONDS). None: not measured (the read-path runs write nothing).
    events_behind: int | None = None
    mail_queued: int | None = None
    caught_up_seconds: float | None = None

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


#: The server's debts, counted in its database: events the relay has not handed on, e-mails
#: waiting to be sent (queued, their time come or not).
BACKLOG_SQL = (
    "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL),"
    " (SELECT count(*) FROM notifications WHERE status = 'queued')"
)
CATCH_UP_LIMIT_SECONDS = 60.0

Backlog = Callable[[], tuple[int, int]]


def sqlite_backlog(database: Path) -> Backlog:
    def count() -> tuple[int, int]:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            events, mail = db.execute(BACKLOG_SQL).fetchone()
        return int(events), int(mail)

    return count


def catch_up(step: Step, backlog: Backlog) -> None:
    """Records what the server owed when the load stopped, then waits (up to
    CATCH_UP_LIMIT_SECONDS) until it owes nothing. A throughput whose events and e-mails pile
    up is not one the server can keep: the backlog says whether the step's figure is. (E-mail
    is sent every `mail_poll_seconds`, 2 s, so a server that keeps up can owe a few seconds'
    worth of it and take that long to catch up.)"""
    started = time.monotonic()
    step.events_behind, step.mail_queued = backlog()
    while time.monotonic() - started < CATCH_UP_LIMIT_SECONDS:
        if backlog() == (0, 0):
            step.caught_up_seconds = time.monotonic() - started
            return
        time.sleep(0.25)
    step.caught_up_seconds = float("inf")


def start_profiler(
    server: Target, seconds: float, profile: Path | None, errors: Path, prefix: list[str]
) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the server (its API processes too) for `seconds` into the flame graph
    `profile`, on the generator's core (`prefix`); None without a profile."""
    if profile is None:
        return None
    return subprocess.Popen(
        [
            *prefix,
            os.path.relpath(Path(sys.executable).parent / "py-spy", ROOT),
            "record",
            "--pid",
            str(server.pids()[0]),
            "--subprocesses",  # several API processes: uvicorn's supervisor's children
            "--duration",
            f"{seconds:.0f}",
            "--rate",
            "100",
            "--nonblocking",
            "--output",
            os.path.relpath(profile, ROOT),
        ],
        cwd=ROOT,  # relative paths: the flame graph's title shows the command
        stdout=subprocess.DEVNULL,
        stderr=errors.open("wb"),
    )


def run_locust(
    label: str,
    server: Target,
    users: int,
    seconds: float,
    settle: float,
    locustfile: Path,
    classes: list[str],
    env: dict[str, str],
    work: Path,
    generator_prefix: list[str],
    profile: Path | None = None,
) -> Step:
    """One headless Locust run; statistics reset after `settle` seconds (the logins). With
    `profile`, py-spy samples the server through the measured part into that flame graph."""
    prefix = work / f"locust-{label}"
    mix_file = work / f"mix-{label}.json"
    env = env | {
        "BENCH_MEASURE_AFTER": str(settle),
        "BENCH_MIX_FILE": str(mix_file),
        "BENCH_STATS_FILE": f"{prefix}.json",
    }
    command = [
        *generator_prefix,
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(locustfile),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{settle + seconds:.0f}s",
        "--host",
        server.url,
        "--only-summary",
        "--loglevel",
        "WARNING",
        *classes,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    locust = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=(work / f"{label}.err").open("wb")
    )
    time.sleep(settle)
    sampler = RssSampler(server.api_pids)
    sampler.start()
    profiler = start_profiler(
        server, seconds, profile, work / f"{label}-py-spy.err", generator_prefix
    )
    cpu_start, wall_start = server_cpu_seconds(server), time.monotonic()
    machine_start = busy_and_total_ticks()
    try:
        locust.wait(timeout=settle + seconds + 60)
    except subprocess.TimeoutExpired:
        locust.kill()
        locust.wait(timeout=10)
    wall = time.monotonic() - wall_start
    if profiler is not None:
        profiler.wait(timeout=60)
    server_cpu = (server_cpu_seconds(server) - cpu_start) / wall
    machine_end = busy_and_total_ticks()
    machine_cpu = (machine_end[0] - machine_start[0]) / max(machine_end[1] - machine_start[1], 1)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    generator = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / (
        settle + wall
    )
    step = Step(label, users, server_cpu=server_cpu, server_rss_mb=sampler.stop())
    step.machine_cpu, step.rss_samples = machine_cpu, sampler.samples
    step.generator_cpu = generator
    stats_file = Path(f"{prefix}.json")
    if stats_file.exists():
        stats = json.loads(stats_file.read_text())
        total = stats["total"]
        step.requests, step.failures = total["requests"], total["failures"]
        step.p50, step.p95, step.p99, step.rps = (total[k] for k in ("p50", "p95", "p99", "rps"))
        step.endpoints = stats["entries"]
    else:
        tail = (work / f"{label}.err").read_text()[-2000:]
        log(f"  no statistics from Locust; its stderr ends:\n{tail}")
    if mix_file.exists():
        step.mix = json.loads(mix_file.read_text())
    return step


MIX_LUA = BENCH / "wrk" / "mix.lua"
#: Users of the Locust step that gives each kind of request's figures when wrk drives the mix.
DETAIL_USERS = 32
#: Patrons logged in for wrk's mix before it starts (Locust's users share 16 logins too).
WRK_PATRONS = 16


def login(url: str, username: str, password: str) -> str:
    form = urllib.parse.urlencode({"username": username, "password": password}).encode()
    with urllib.request.urlopen(f"{url}/auth/token", form, timeout=30) as answer:  # noqa: S310
        return str(json.loads(answer.read())["access_token"])


def lua(value: Any) -> str:
    """A Lua literal of JSON-like data (strings, numbers, lists, dicts with name keys)."""
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string of ASCII is a Lua string too
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={lua(v)}" for k, v in value.items()) + "}"
    return "{" + ",".join(lua(v) for v in value) + "}"


def wrk_mix_data(url: str, fixtures: dict[str, Any], path: Path, rng: random.Random) -> Path:
    """Logs in the staff and WRK_PATRONS patrons, then writes what bench/wrk/mix.lua reads."""
    staff = fixtures["staff"]
    patrons = rng.sample(fixtures["patrons"], WRK_PATRONS)
    password = fixtures["patron_password"]
    data = {
        "seed": 9,
        "weights": [[name, weight] for name, weight in mix_weights().items()],
        "books": fixtures["book_ids"],
        "terms": [urllib.parse.quote(term) for term in fixtures["search_terms"]],
        "staff": "Bearer " + login(url, staff["username"], staff["password"]),
        "patrons": [
            {"id": p["id"], "auth": "Bearer " + login(url, p["email"], password)} for p in patrons
        ],
    }
    path.write_text("return " + lua(data) + "\n")
    return path


def mix_weights() -> dict[str, int]:
    """The mix's task weights (bench/locust/mix.py, which imports nothing of Locust's)."""
    sys.path.insert(0, str(BENCH / "locust"))
    try:
        import mix
    finally:
        sys.path.pop(0)
    return dict(mix.WEIGHTS)


def run_wrk_mix(
    label: str,
    server: Target,
    users: int,
    seconds: float,
    data: Path,
    work: Path,
    generator_prefix: list[str],
    profile: Path | None = None,
) -> Step:
    """One wrk run of the mix (bench/wrk/mix.lua): `users` connections, one thread, each
    connection sending its next request when the last answer arrives (closed loop)."""
    command = [
        *generator_prefix,
        "wrk",
        "-t1",
        f"-c{users}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "10s",
        "-s",
        str(MIX_LUA),
        server.url,
    ]
    sampler = RssSampler(server.api_pids)
    sampler.start()
    profiler = start_profiler(
        server, seconds, profile, work / f"{label}-py-spy.err", generator_prefix
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_start, wall_start = server_cpu_seconds(server), time.monotonic()
    machine_start = busy_and_total_ticks()
    done = subprocess.run(
        command,
        env=os.environ | {"BENCH_WRK_DATA": str(data)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    wall = time.monotonic() - wall_start
    if profiler is not None:
        profiler.wait(timeout=60)
    server_cpu = (server_cpu_seconds(server) - cpu_start) / wall
    machine_end = busy_and_total_ticks()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    step = Step(label, users, server_cpu=server_cpu, server_rss_mb=sampler.stop())
    step.rss_samples = sampler.samples
    step.machine_cpu = (machine_end[0] - machine_start[0]) / max(
        machine_end[1] - machine_start[1], 1
    )
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    step.generator_cpu = used / wall
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        log(f"  no figures from wrk; it said:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return step
    f = json.loads(lines[-1])
    socket_errors = f["connect"] + f["read"] + f["write"] + f["timeout"]
    step.requests, step.failures = f["requests"], f["errors"] + socket_errors
    step.p50, step.p95, step.p99 = (f[k] / 1000 for k in ("p50_us", "p95_us", "p99_us"))
    step.rps = f["requests"] / (f["duration_us"] / 1e6)
    sent = f["reads"] + f["writes"]
    step.mix = {
        "counts": {
            "reads sent": f["reads"],
            "writes sent": f["writes"],
            "answers ok": f["ok"],
            "refused": f["refused"],
            "errors": f["errors"],
            "socket errors": socket_errors,
        },
        "read_share": f["reads"] / sent if sent else 0.0,
        "write_share": f["writes"] / sent if sent else 0.0,
    }
    return step


@dataclass
class WrkRun:
    """One wrk run against one read path: its throughput and latencies (ms), and every answer
    that was not a 2xx or never came (wrk counts them in its RPS, so they are reported)."""

    rps: float
    p50: float
    p99: float
    requests: int
    not_2xx: int
    socket_errors: int


WRK_LATENCY = {"50%": "p50", "99%": "p99"}
WRK_ROUNDS = 5


def wrk_seconds(ceiling_seconds: float) -> float:
    """One wrk run's length, whole seconds: the rounds of one target take about twice as long
    as its Locust run."""
    return float(round(ceiling_seconds * 2 / WRK_ROUNDS))


def run_wrk(
    url: str, connections: int, seconds: float, generator_prefix: list[str]
) -> WrkRun | None:
    """wrk (one thread, `connections` keep-alive connections) on the generator's core; None
    when wrk is not installed (`apt-get install wrk`) or gave no figures."""
    if shutil.which("wrk") is None:
        return None
    command = [
        *generator_prefix,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        "--latency",
        url,
    ]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
    except subprocess.TimeoutExpired:
        return None
    figures: dict[str, float] = {"not_2xx": 0, "socket_errors": 0}
    for line in out.splitlines():
        words = line.split()
        if words and words[0] in WRK_LATENCY:
            figures[WRK_LATENCY[words[0]]] = wrk_ms(words[1])
        elif line.startswith("Requests/sec:"):
            figures["rps"] = float(words[1])
        elif "requests in" in line:
            figures["requests"] = int(words[0])
        elif line.strip().startswith("Non-2xx"):
            figures["not_2xx"] = int(words[-1])
        elif line.strip().startswith("Socket errors"):
            figures["socket_errors"] = sum(int(w.strip(",")) for w in words[3::2])
    if not {"rps", "p50", "p99", "requests"} <= figures.keys():
        return None
    return WrkRun(
        figures["rps"],
        figures["p50"],
        figures["p99"],
        int(figures["requests"]),
        int(figures["not_2xx"]),
        int(figures["socket_errors"]),
    )


def wrk_ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * factor
    return float(text)


def capture(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
        return bytes(answer.read())


# --- the report -------------------------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()


@dataclass(frozen=True)
class Report:
    """Where a run's report goes and what it says it measured."""

    now: datetime
    stem: Path  # <out>/<date>-<mode>, then .md, .csv, .png
    commit: str  # the short hash, and whether the tree had uncommitted changes
    command: str  # how to run it again


def commit_measured() -> str:
    """The checkout's commit, and whether its tree had uncommitted changes (earlier reports in
    bench/results are this harness's output, not what it measures)."""
    changed = git("status", "--porcelain", "--", ".", ":(exclude)bench/results")
    dirty = " (plus uncommitted changes)" if changed else ""
    return git("rev-parse", "--short", "HEAD") + dirty


#: Taken when the run starts, with the servers it starts: a commit made while it runs is not
#: what it measured.
COMMIT = commit_measured()


def report_of(out: Path, mode: str, command: str) -> Report:
    now = datetime.now(UTC)
    out.mkdir(parents=True, exist_ok=True)
    return Report(now, out / f"{now:%Y-%m-%d}-{mode}", COMMIT, command)


def make_command(target: str) -> str:
    """`make <target>` with this run's arguments as BENCH_ARGS."""
    return f"make {target}" + (f" BENCH_ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else "")


def row(step: Step) -> list[str]:
    return [
        step.label,
        str(step.users),
        str(step.requests),
        f"{step.error_rate:.2%}",
        f"{step.p50:.0f}",
        f"{step.p95:.0f}",
        f"{step.p99:.0f}",
        f"{step.rps:.0f}",
        f"{step.server_cpu:.0%}",
        f"{step.server_rss_mb:.0f}",
        f"{step.generator_cpu:.0%}",
        f"{step.machine_cpu:.0%}",
        "-" if step.events_behind is None else str(step.events_behind),
        "-" if step.mail_queued is None else str(step.mail_queued),
        caught_up_text(step.caught_up_seconds),
    ]


def caught_up_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"> {CATCH_UP_LIMIT_SECONDS:.0f}" if seconds == float("inf") else f"{seconds:.1f}"


HEADER = [
    "step",
    "users",
    "requests",
    "errors",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "RPS",
    "server CPU",
    "peak RSS MB",
    "generator CPU",
    "machine CPU",
    "events behind",
    "e-mails queued",
    "caught up s",
]


def wrk_table(
    runs: dict[str, list[WrkRun | None]], reads: dict[str, str], connections: int, seconds: float
) -> str:
    if all(run is None for label_runs in runs.values() for run in label_runs):
        return "wrk is not installed (`apt-get install wrk`) or gave no figures: none here."
    lines = [
        f"wrk ({connections} keep-alive connections, one thread, {seconds:.0f} s a run, on the "
        "generator's core) costs far less CPU per request than Locust, so its bare figure is "
        "closer to what the server itself can do and the ratio is the honest one. Shelfmark and "
        f"the bare app are run in turn, {WRK_ROUNDS} rounds each, which goes first alternating: "
        "the ratio is taken per round (neighbouring runs share the machine's speed of the "
        "moment), and its median is the figure. RPS, p50 and p99 are the rounds' medians. "
        "Non-2xx answers and socket errors are the rounds' sums, listed because wrk counts them "
        "in its RPS. A round where either run gave no figures is left out and counted.",
        "",
        "| read | Shelfmark RPS | p50 ms | p99 ms | bare RPS | p50 ms | p99 ms | non-2xx, "
        "socket errors | ratio per round | Shelfmark / bare |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, path in reads.items():
        rounds = [
            (ours, bare)
            for ours, bare in zip(runs[f"{name}-shelfmark"], runs[f"{name}-ceiling"], strict=True)
            if ours is not None and bare is not None and bare.rps > 0
        ]
        if not rounds:
            lines.append(f"| `GET {path}` | no complete round | | | | | | | | |")
            continue
        ours_runs, bare_runs = [o for o, _ in rounds], [b for _, b in rounds]
        ratios = [o.rps / b.rps for o, b in rounds]
        wrong = sum(r.not_2xx for r in ours_runs + bare_runs)
        unanswered = sum(r.socket_errors for r in ours_runs + bare_runs)
        missing = WRK_ROUNDS - len(rounds)
        lines.append(
            f"| `GET {path}` | {_median(ours_runs, 'rps'):.0f} | {_median(ours_runs, 'p50'):.1f} "
            f"| {_median(ours_runs, 'p99'):.1f} | {_median(bare_runs, 'rps'):.0f} "
            f"| {_median(bare_runs, 'p50'):.1f} | {_median(bare_runs, 'p99'):.1f} "
            f"| {wrong}, {unanswered} | {', '.join(f'{r:.3f}' for r in ratios)}"
            f"{f' ({missing} missing)' if missing else ''} "
            f"| **{statistics.median(ratios):.3f}** |"
        )
    return "\n".join(lines)


def _median(runs: list[WrkRun], figure: str) -> float:
    return float(statistics.median(float(getattr(run, figure)) for run in runs))


def table(steps: list[Step]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row(s)) + " |" for s in steps]
    return "\n".join(lines)


def plot(steps: list[Step], ceilings: dict[str, float], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    rps = [s.rps for s in steps]
    for name, marker in (("p50", "o"), ("p95", "s"), ("p99", "^")):
        axes.plot(rps, [getattr(s, name) for s in steps], marker=marker, label=name)
    for s in steps:
        axes.annotate(f"{s.users}u", (s.rps, s.p99), textcoords="offset points", xytext=(4, 4))
    # A ceiling line only where it fits on the same scale (it is in the report's table anyway).
    for name, value in ceilings.items():
        if value <= 3 * max(rps):
            axes.axvline(value, linestyle="--", color="grey", linewidth=1, label=name)
    axes.set_xlabel("throughput (requests/s)")
    axes.set_ylabel("latency (ms)")
    axes.set_yscale("log")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def build_data_set(
    args: argparse.Namespace, env: dict[str, str], rng: random.Random
) -> dict[str, Any]:
    """Seeds env's DATABASE_URL through the CLI, then the bench-only loans and logins."""
    shelfmark = [sys.executable, "-m", "shelfmark"]
    log(f"seeding {args.books:,} books and {args.patrons:,} patrons")
    subprocess.run(
        [*shelfmark, "seed", "--books", str(args.books), "--patrons", str(args.patrons)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    subprocess.run(
        [*shelfmark, "users", "create", STAFF["username"], "--password-stdin"],
        input=STAFF["password"] + "\n",
        text=True,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    log(f"adding {args.loans:,} active loans and {args.logins:,} patron logins")
    return add_loans_and_logins(env["DATABASE_URL"], args.loans, args.logins, rng)


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--long", action="store_true", help="60 s steps and more of them")
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--patrons", type=int, default=10_000)
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--logins", type=int, default=2_000, help="patrons given a password")
    parser.add_argument("--users", default=None, help="comma-separated concurrency steps")
    parser.add_argument("--step-seconds", type=float, default=None)
    parser.add_argument("--ceiling-users", type=int, default=32)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one more step at the top concurrency under py-spy: <date>-embedded-flame.svg",
    )
    parser.add_argument(
        "--mix-only", action="store_true", help="the mix steps only: no ceiling, no report"
    )
    parser.add_argument(
        "--soak",
        type=float,
        default=None,
        metavar="MINUTES",
        help="instead of the steps: the mix at --soak-users for MINUTES, the server's memory "
        "followed (<date>-soak.md)",
    )
    parser.add_argument("--soak-users", type=int, default=32)
    parser.add_argument(
        "--generator",
        choices=("wrk", "locust"),
        default="wrk",
        help="what drives the mix steps (wrk: bench/wrk/mix.lua; Locust then gives one step's "
        "per-request figures)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="API processes (SHELFMARK_API_PROCESSES; the bare app runs as many; default: one "
        "per core); more than one pins nothing",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="keep the seeded data set in this directory and reuse it when it is already there",
    )
    args = parser.parse_args()
    if args.generator == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("bench: wrk drives the mix: apt-get install wrk (or --generator locust)")
    steps_users = [
        int(u) for u in (args.users or ("8,16,32,64,128" if args.long else "8,16,32,64")).split(",")
    ]
    step_seconds = args.step_seconds or (60.0 if args.long else 20.0)
    ceiling_seconds = 30.0 if args.long else 15.0
    settle = 5.0  # before each step; more with more users (their logins queue on a busy server)
    server_prefix, generator_prefix, pinned = pinning(args.processes)
    started = time.monotonic()
    rng = random.Random(9)  # noqa: S311 (fake data)

    with tempfile.TemporaryDirectory(prefix="shelfmark-bench-") as tmp:
        work = Path(tmp)
        database = work / "shelfmark.db"
        env = os.environ | {
            "DATABASE_URL": f"sqlite:///{database}",
            "SHELFMARK_VAR_DIR": str(work / "var"),
            "SHELFMARK_SCHEDULER_ENABLED": "false",
            "SHELFMARK_REQUEST_LIMIT_PER_CLIENT": "100000000/minute",
            "SHELFMARK_LOGIN_LIMIT_PER_CLIENT": "1000000/minute",
            "SHELFMARK_LOGIN_LIMIT_PER_ACCOUNT": "1000000/minute",
            "SHELFMARK_ACCESS_TOKEN_MINUTES": "1440",
            "SHELFMARK_LOG_LEVEL": "warning",
            "SHELFMARK_API_PROCESSES": str(args.processes),
        }
        shelfmark = [sys.executable, "-m", "shelfmark"]

        t0 = time.monotonic()
        sizes = f"{args.books}-{args.patrons}-{args.loans}-{args.logins}"
        saved = args.data / sizes if args.data else None
        if saved and (saved / "fixtures.json").exists():
            log(f"reusing the data set in {saved}")
            shutil.copy(saved / "shelfmark.db", database)
            fixtures = json.loads((saved / "fixtures.json").read_text())
        else:
            fixtures = build_data_set(args, env, rng)
            if saved:
                saved.mkdir(parents=True, exist_ok=True)
                shutil.copy(database, saved / "shelfmark.db")
                (saved / "fixtures.json").write_text(json.dumps(fixtures))
        fixtures_file = work / "fixtures.json"
        fixtures_file.write_text(json.dumps(fixtures))
        seed_seconds = time.monotonic() - t0
        locust_env = env | {"BENCH_FIXTURES": str(fixtures_file)}

        server = start("shelfmark", [*server_prefix, *shelfmark, "serve"], env, work)
        ceiling: Server | None = None
        try:
            server.wait_ready("/health/ready")
            log(f"shelfmark serving at {server.url} (pid {server.process.pid}); {pinned}")
            book = fixtures["book_ids"][0]
            reads = {
                "search": f"/books?q={SEARCH_TERM}",
                "book": f"/books/{book}",
            }
            bodies = {}
            for name, path in reads.items():
                body_file = work / f"{name}.body"
                body_file.write_bytes(capture(server.url + path))
                bodies[path] = str(body_file)
            (work / "bodies.json").write_text(json.dumps(bodies))

            wrk_data = work / "wrk-mix.lua"
            if args.generator == "wrk":
                wrk_mix_data(server.url, fixtures, wrk_data, rng)

            def mix(
                label: str,
                users: int,
                seconds: float,
                profile: Path | None = None,
                generator: str = args.generator,
            ) -> Step:
                if generator == "wrk":
                    step = run_wrk_mix(
                        label, server, users, seconds, wrk_data, work, generator_prefix, profile
                    )
                else:
                    step = run_locust(
                        label,
                        server,
                        users,
                        seconds,
                        settle + users / 8,
                        LOCUSTFILE,
                        MIX_USERS,
                        locust_env,
                        work,
                        generator_prefix,
                        profile,
                    )
                catch_up(step, sqlite_backlog(database))
                return step

            log("warming up: 16 users, 10 s")
            mix("warmup", 16, 10)
            if args.soak is not None:
                log(f"soak: {args.soak_users} users for {args.soak:.0f} min")
                soaked = mix("soak", args.soak_users, args.soak * 60, generator="locust")
                soak_report(args, soaked, pinned, time.monotonic() - started)
                return
            steps: list[Step] = []
            for users in steps_users:
                log(f"mix step: {users} users, {step_seconds:.0f} s")
                steps.append(mix(f"{users}", users, step_seconds))
                log("  " + " | ".join(row(steps[-1])))
                log(f"  mix: {steps[-1].mix.get('counts')}")
            if args.profile:
                flame = args.out / f"{datetime.now(UTC):%Y-%m-%d}-embedded-flame.svg"
                log(f"profiling {steps_users[-1]} users for {step_seconds:.0f} s into {flame}")
                mix("profile", steps_users[-1], step_seconds, flame)
            if args.mix_only:
                return
            detail = steps[-1]
            if args.generator == "wrk":
                log(f"the mix with Locust, for each request's figures: {DETAIL_USERS} users")
                detail = mix("locust", DETAIL_USERS, step_seconds, generator="locust")
                log("  " + " | ".join(row(detail)))

            ceiling = start(
                "ceiling",
                [
                    *server_prefix,
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(BENCH),
                    "ceiling_app:app",
                    "--host",
                    "127.0.0.1",
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--workers",
                    str(args.processes),
                ],
                env | {"BENCH_CEILING_BODIES": str(work / "bodies.json")},
                work,
            )
            ceiling.wait_ready(reads["search"])
            read_steps: dict[str, Step] = {}
            for name, path in reads.items():
                for target in (server, ceiling):
                    label = f"{name}-{target.name}"
                    log(f"read path {path} on {target.name}: {args.ceiling_users} users")
                    read_steps[label] = run_locust(
                        label,
                        target,
                        args.ceiling_users,
                        ceiling_seconds,
                        2.0,
                        READPATH_LOCUSTFILE,
                        ["ReadPathUser"],
                        env | {"BENCH_READ_PATH": path},
                        work,
                        generator_prefix,
                    )
                    log("  " + " | ".join(row(read_steps[label])))
            # Rounds, the two servers in turn: the machine's speed drifts by tens of percent
            # within minutes here, and only a ratio taken from neighbouring runs cancels it.
            wrk_runs: dict[str, list[WrkRun | None]] = {}
            for name, path in reads.items():
                for round_ in range(1, WRK_ROUNDS + 1):
                    pair = (server, ceiling) if round_ % 2 else (ceiling, server)
                    for target in pair:
                        label = f"{name}-{target.name}"
                        log(
                            f"read path {path} on {target.name}: wrk, {args.ceiling_users} "
                            f"connections, round {round_} of {WRK_ROUNDS}"
                        )
                        wrk_run = run_wrk(
                            target.url + path,
                            args.ceiling_users,
                            wrk_seconds(ceiling_seconds),
                            generator_prefix,
                        )
                        wrk_runs.setdefault(label, []).append(wrk_run)
                        log(f"  {wrk_run}")
        finally:
            server.stop()
            if ceiling:
                ceiling.stop()
        total_seconds = time.monotonic() - started
        body_sizes = {name: len(Path(bodies[path]).read_bytes()) for name, path in reads.items()}
        write_report(
            args,
            steps,
            detail,
            read_steps,
            wrk_runs,
            reads,
            body_sizes,
            pinned,
            seed_seconds,
            total_seconds,
            step_seconds,
            ceiling_seconds,
            settle,
        )


def write_csv(path: Path, steps: list[Step]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "step",
                "users",
                "requests",
                "failures",
                "error_rate",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "rps",
                "server_cpu",
                "server_peak_rss_mb",
                "generator_cpu",
                "machine_cpu",
                "read_share",
                "write_share",
                "events_behind",
                "mail_queued",
                "caught_up_seconds",
            ]
        )
        for s in steps:
            writer.writerow(
                [
                    s.label,
                    s.users,
                    s.requests,
                    f"{s.error_rate:.5f}",
                    s.p50,
                    s.p95,
                    s.p99,
                    f"{s.rps:.1f}",
                    f"{s.server_cpu:.3f}",
                    f"{s.server_rss_mb:.1f}",
                    f"{s.generator_cpu:.3f}",
                    f"{s.machine_cpu:.3f}",
                    f"{s.mix.get('read_share', 1.0):.4f}",
                    f"{s.mix.get('write_share', 0.0):.4f}",
                    "" if s.events_behind is None else s.events_behind,
                    "" if s.mail_queued is None else s.mail_queued,
                    "" if s.caught_up_seconds is None else f"{s.caught_up_seconds:.2f}",
                ]
            )


def endpoint_lines(step: Step) -> list[str]:
    """One table row per kind of request of a step."""
    return [
        f"| {e['name']} | {e['requests']} | {e['failures']} | {e['p50']:.0f} | "
        f"{e['p95']:.0f} | {e['p99']:.0f} |"
        for e in step.endpoints
        if e["requests"]
    ]


def trend_mb_per_minute(samples: list[tuple[float, float]]) -> float:
    """The least-squares slope of RSS over time, in MB per minute."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    slope = sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread if spread else 0.0
    return slope * 60


def soak_report(args: argparse.Namespace, step: Step, pinned: str, total_seconds: float) -> None:
    """<date>-soak.md and .png: the mix's figures over the soak, and the server's memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = report_of(args.out, "soak", " ".join(["python bench/run.py", *sys.argv[1:]]))
    now, stem = run.now, run.stem  # make bench-soak runs it with --soak 10
    samples = step.rss_samples or [(0.0, step.server_rss_mb)]
    minutes = samples[-1][0] / 60

    def around(t0: float, t1: float) -> float:
        window = [m for t, m in samples if t0 <= t < t1] or [0.0]
        return sum(window) / len(window)

    first, last = around(60, 120), around(samples[-1][0] - 60, float("inf"))
    after_warm = [(t, m) for t, m in samples if t >= 60]
    trend, late_trend = (
        trend_mb_per_minute(after_warm),
        trend_mb_per_minute([(t, m) for t, m in samples if t >= samples[-1][0] / 2]),
    )
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.plot([t / 60 for t, _ in samples], [m for _, m in samples], linewidth=1)
    axes.axhline(250, linestyle="--", color="grey", linewidth=1, label="250 MB (the goal)")
    axes.set_xlabel("minutes into the soak")
    axes.set_ylabel("API process RSS (MB)")
    axes.set_ylim(bottom=0)
    axes.set_title(f"Shelfmark embedded, {step.users} users of the 93/7 mix, {now:%Y-%m-%d}")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(f"{stem}.png", dpi=120)
    plt.close(figure)
    text = f"""# Soak: embedded mode, {now:%Y-%m-%d %H:%M} UTC

Written by `bench/run.py --soak`; regenerate with `{run.command}`.

- commit: {run.commit}; {os.cpu_count()} cores, {cpu_model()}; {total_seconds:.0f} s in all
- the data set and server of `make bench` ({processes(args.processes)}); Locust as the
  generator (FastHttpUser, one process); {pinned}
- {step.users} users of the 93/7 mix (closed loop, no think time) for {minutes:.1f} min after a
  10 s warm-up; the API processes' RSS (VmRSS) sampled every 0.2 s, the largest taken

| requests | errors | p50 ms | p95 ms | p99 ms | RPS | server CPU |
|---|---|---|---|---|---|---|
| {step.requests} | {step.error_rate:.2%} | {step.p50:.0f} | {step.p95:.0f} | {step.p99:.0f} | \
{step.rps:.0f} | {step.server_cpu:.0%} |

Left behind when the load stopped: {step.events_behind} events not yet relayed and \
{step.mail_queued} e-mails queued, all handled {caught_up_text(step.caught_up_seconds)} s later.

Memory of the largest API process (goal: under 250 MB with no upward trend):

| peak | mean of minute 2 | mean of the last minute | trend after minute 1 | trend, second half |
|---|---|---|---|---|
| {step.server_rss_mb:.0f} MB | {first:.0f} MB | {last:.0f} MB | {trend:+.2f} MB/min | \
{late_trend:+.2f} MB/min |

![RSS over the soak]({stem.name}.png)
"""
    Path(f"{stem}.md").write_text(text)
    print(text)
    log(f"wrote {stem}.md and .png")


def generator_text(generator: str, settle: float, step_seconds: float) -> str:
    """The report's sentence on what drove the mix steps."""
    from importlib.metadata import version

    locust = (
        f"Locust {version('locust')}, FastHttpUser, one process, no think time: each user is "
        "one connection sending its next request when the last answer arrives (closed loop). "
        f"Each step: the users start and log in for {settle:.0f} s plus 1 s per 8 users, then "
        f"the statistics are reset and {step_seconds:.0f} s are measured"
    )
    if generator == "locust":
        return locust + ". Warm-up before the first step: 16 users for 10 s."
    return (
        f"{wrk_version()} with `bench/wrk/mix.lua` (the same tasks and weights as Locust's "
        f"`Library` user, `bench/locust/mix.py`), one thread, as many connections as users, "
        f"each sending its next request when the last answer arrives (closed loop), "
        f"{WRK_PATRONS} patrons and the librarian logged in before; {step_seconds:.0f} s per "
        f"step. Warm-up before the first step: 16 connections for 10 s. Then {locust}, for "
        "each kind of request's figures (wrk has only the whole step's)."
    )


def detail_text(generator: str, step: Step) -> str:
    if generator == "wrk":
        return f"from a step of the same mix driven by Locust at {step.users} users"
    return f"at the busiest step ({step.users} users)"


def wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    except OSError:
        return "wrk"
    return (out.stdout or out.stderr).split(" [", 1)[0].strip() or "wrk"


def processes(count: int) -> str:
    return "one process" if count == 1 else f"{count} API processes sharing the port"


def write_report(
    args: argparse.Namespace,
    steps: list[Step],
    detail: Step,
    read_steps: dict[str, Step],
    wrk_runs: dict[str, list[WrkRun | None]],
    reads: dict[str, str],
    body_sizes: dict[str, int],
    pinned: str,
    seed_seconds: float,
    total_seconds: float,
    step_seconds: float,
    ceiling_seconds: float,
    settle: float,
) -> None:
    run = report_of(args.out, "embedded", make_command("bench"))
    now, stem = run.now, run.stem

    write_csv(Path(f"{stem}.csv"), [*steps, *read_steps.values()])

    ceilings = {f"bare ASGI {n}": read_steps[f"{n}-ceiling"].rps for n in reads}
    plot(
        steps,
        ceilings,
        Path(f"{stem}.png"),
        f"Shelfmark embedded (SQLite), 93/7 mix, {now:%Y-%m-%d}",
    )

    mix_lines = []
    for s in steps:
        m = s.mix
        counts = ", ".join(f"{k} {v}" for k, v in m.get("counts", {}).items())
        mix_lines.append(
            f"| {s.users} | {m.get('read_share', 0):.1%} | {m.get('write_share', 0):.1%} | "
            f"{counts} |"
        )
    ratio_lines = []
    for name, path in reads.items():
        ours, bare = read_steps[f"{name}-shelfmark"], read_steps[f"{name}-ceiling"]
        ratio_lines.append(
            f"| `GET {path}` ({body_sizes[name]:,} bytes) | {ours.rps:.0f} | {ours.p99:.0f} | "
            f"{bare.rps:.0f} | {bare.p99:.0f} | {bare.generator_cpu:.0%} | "
            f"**{ours.rps / bare.rps:.3f}** |"
        )
    bare_steps = [read_steps[f"{n}-ceiling"] for n in reads]
    generator_us = max(b.generator_cpu / b.rps * 1e6 for b in bare_steps if b.rps)
    errors = [s for s in [*steps, detail, *read_steps.values()] if s.failures]
    errors_text = (
        "Steps with failures: "
        + ", ".join(f"{s.label} ({s.failures})" for s in errors)
        + ". Locust's failure lists were in the run's temporary directory."
        if errors
        else "None: every request got an expected answer."
    )
    logins_text = (
        "wrk's tokens were made before it started"
        if args.generator == "wrk"
        else "logins are made at the start of each step, before the statistics reset"
    )
    wrk_text = wrk_table(wrk_runs, reads, args.ceiling_users, wrk_seconds(ceiling_seconds))
    cores = os.cpu_count()
    text = f"""# Benchmark: embedded mode (SQLite), {now:%Y-%m-%d %H:%M} UTC

Written by `bench/run.py`; regenerate with `{run.command}`. Raw numbers in
[{stem.name}.csv]({stem.name}.csv), the plot in [{stem.name}.png]({stem.name}.png).

## Setup

- machine: {cores} cores, {cpu_model()}, {platform.platform()}, Python {platform.python_version()}
- commit: {run.commit}
- command: `{run.command}` ({total_seconds:.0f} s in all)
- data: {args.books:,} books (1-3 copies each, `shelfmark seed`), {args.patrons:,} patrons,
  {args.loans:,} active loans on distinct circulating copies and {args.logins:,} patron logins
  (bench-only bulk insert in `bench/run.py`), one librarian (`shelfmark users create`);
  {seed_seconds:.0f} s to build. A fresh SQLite file (WAL) in a temporary directory.
- server: `python -m shelfmark serve` (uvicorn, {processes(args.processes)}, uvloop +
  httptools, access log off), scheduler off, request and login limits raised to millions per
  minute (every request comes from 127.0.0.1), tokens good for 24 h.
- generator: {generator_text(args.generator, settle, step_seconds)}
- pinning: {pinned}.
- server CPU is the server processes' user+system time over the measured wall time (100% = one
  core); peak RSS is the largest API process's VmRSS sampled every 0.2 s; generator CPU is
  the generator's CPU the same way; machine CPU is the share of all {cores} cores busy with
  anything (from /proc/stat).

## The 93/7 mix, step by step

Latencies in ms, errors = failed requests / all requests. A business
refusal (409: no copy available, loan limit, renewal limit, duplicate hold) is an expected
answer and not an error. The last three columns are what the server still owed when
the step's load stopped, counted in its database: events its outbox relay had not yet handed
to the consumers, e-mails queued, and the seconds it then took to owe nothing (e-mail goes out
every 2 s, so a server that keeps up may owe a couple of seconds' worth). A step whose backlog
grows with its length measured a rate the server cannot keep.

{table(steps)}

![latency against throughput]({stem.name}.png)

The mix the generator actually produced (reads = GET, writes = POST other than logins;
{logins_text}):

| users | reads | writes | counts |
|---|---|---|---|
{chr(10).join(mix_lines)}

Each request, {detail_text(args.generator, detail)}:

{table([detail])}

| request | count | failures | p50 ms | p95 ms | p99 ms |
|---|---|---|---|---|---|
{chr(10).join(endpoint_lines(detail))}

## The ceiling: the same bytes from a bare ASGI app

`bench/ceiling_app.py` answers with the bytes Shelfmark gave for the same request (captured at
the start of the run), served by uvicorn with the same settings, pinned the same way; both are
driven by the same read-only Locust user (`bench/locust/readpath.py`) with
{args.ceiling_users} users for {ceiling_seconds:.0f} s.

| read | Shelfmark RPS | p99 ms | bare RPS | p99 ms | generator CPU (bare) | Shelfmark / bare |
|---|---|---|---|---|---|---|
{chr(10).join(ratio_lines)}

{table(list(read_steps.values()))}

If the generator's CPU on the bare run is near 100%, the bare app was not the limit: Locust
(here about {generator_us:.0f} µs of CPU per request) saturated its core first, so the "ceiling"
is the generator's own ceiling and the ratio overstates Shelfmark's share of what the server
could do.

### The same, measured with wrk

{wrk_text}

## Errors

{errors_text}
"""
    Path(f"{stem}.md").write_text(text)
    print(text)
    log(f"wrote {stem}.md, .csv and .png")


if __name__ == "__main__":
    main()
