"""`make bench-read`: the read side (search index, keyset pages, one book) at 10k, 100k and 1M
books, on SQLite and on PostgreSQL, one client at a time.

For each backend and size, every part bounded in time and stopped by itself:

1. A fresh database: an SQLite file under var/bench/, or a new PostgreSQL database at
   127.0.0.1:5432 (user postgres, as bench/seed.py), deleted or dropped afterwards. With
   --keep they stay (named by size), and the next run with --keep reuses each one whose seeding
   finished instead of seeding again (a million books take minutes). `shelfmark seed` fills
   it (books with 1-3 copies, a few patrons, the index rebuilt); PostgreSQL then gets
   `VACUUM ANALYZE`, which autovacuum would do by itself a little later (SQLite is left as the
   application leaves it: no ANALYZE).
2. A real `python -m shelfmark serve` process on a free loopback port (uvicorn, one process,
   scheduler off, rate limits raised), not the ASGI app in-process: closer to production.
3. One client (httpx, one keep-alive connection, requests one after another), a warm-up, then
   N timed requests of each read; latency is measured at the client (connection reuse
   included, the loopback hop included).

The read cache, when the server has one (it shows `shelfmark_cache_*` in /metrics), answers
repeated first pages and books from memory; the index and the queries are what this measures,
so every read is first timed against a server whose cache entries expire at once
(`SHELFMARK_CACHE_TTL_SECONDS=0.000001`), then GET /books/{id} and the word search again
against a server with the default cache ("cached", every request a hit after the warm-up).

Writes bench/results/read_side.md (the table) and bench/results/read_side.json (every sample).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
VAR = ROOT / "var" / "bench"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
SIZES = (10_000, 100_000, 1_000_000)
BACKENDS = ("sqlite", "postgres")
GOAL_MS = 20.0
SERVER_ENV = {
    "SHELFMARK_SCHEDULER_ENABLED": "false",
    "SHELFMARK_REQUEST_LIMIT_PER_CLIENT": "100000000/minute",
    "SHELFMARK_LOG_LEVEL": "warning",
}
SHELFMARK = [sys.executable, "-m", "shelfmark"]
NO_CACHE = {"SHELFMARK_CACHE_TTL_SECONDS": "0.000001"}


def log(message: str) -> None:
    print(f"[bench-read {datetime.now():%H:%M:%S}] {message}", flush=True)


# --- databases ------------------------------------------------------------------------------


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(**PG, database="postgres", timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _fetch(database: str, statement: str, *args: Any) -> Any:
    """One value from `statement` in `database` (VACUUM and the like: its status)."""
    connection = await asyncpg.connect(**PG, database=database, timeout=10)
    try:
        if args:
            return await connection.fetchval(statement, *args, timeout=900)
        return await connection.execute(statement, timeout=900)
    finally:
        await connection.close()


@contextmanager
def fresh_database(backend: str, size: int, keep: bool) -> Iterator[tuple[str, bool]]:
    """A database URL and whether it is already seeded. Without `keep`, a new database,
    dropped (deleted) when done. With `keep`, one named by its size that outlives the run, and
    is reused as it is by the next run with `--keep` once its seeding has finished, if it was
    seeded by the same arguments on the same schema (`seeded_by`)."""
    if backend == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        path = VAR / (
            f"read-side-{size}.db" if keep else f"read-side-{size}-{uuid.uuid4().hex[:8]}.db"
        )
        files = [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))]
        mark = _seeded_mark(path)
        seeded = keep and mark.exists() and mark.read_text() == seeded_by()
        if not seeded:
            for f in [*files, _seeded_mark(path)]:
                f.unlink(missing_ok=True)
        try:
            yield f"sqlite:///{path}", seeded
        finally:
            if not keep:
                for f in files:
                    f.unlink(missing_ok=True)
        return
    name = f"shelfmark_bench_read_{size}" + ("" if keep else f"_{uuid.uuid4().hex[:8]}")
    seeded = keep and bool(
        asyncio.run(
            _fetch(
                "postgres",
                "SELECT shobj_description(oid, 'pg_database') = $1"
                " FROM pg_database WHERE datname = $2",
                seeded_by(),
                name,
            )
        )
    )
    if not seeded:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}", seeded
    finally:
        if not keep:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


PATRONS = 1000


def seeded_by() -> str:
    """What a kept database's mark says: a database seeded otherwise (another schema, other
    seed arguments) is seeded again rather than reused."""
    schema = max(p.stem for p in (ROOT / "migrations" / "versions").glob("0*.py"))
    return f"seeded by bench/read_side.py: {PATRONS} patrons, schema {schema}"


def _seeded_mark(path: Path) -> Path:
    return path.with_name(path.name + ".seeded")


def mark_seeded(url: str) -> None:
    """Lets a later run with --keep reuse this database as it is."""
    if url.startswith("sqlite"):
        _seeded_mark(Path(url.split("///", 1)[1])).write_text(seeded_by())
    else:
        asyncio.run(_admin(f"COMMENT ON DATABASE \"{database_name(url)}\" IS '{seeded_by()}'"))


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def matching_entries(url: str, word: str) -> int:
    """How many index entries hold the word (what the ranked search has to rank)."""
    pattern = f"%{word}%"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as connection:
            query = "SELECT count(*) FROM book_search WHERE search_text LIKE ?"
            return int(connection.execute(query, (pattern,)).fetchone()[0])
    query = "SELECT count(*) FROM book_search WHERE search_text LIKE $1"
    return int(asyncio.run(_fetch(database_name(url), query, pattern)))


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@contextmanager
def serving(env: dict[str, str], work: Path, label: str) -> Iterator[Server]:
    port = free_port()
    log_path = work / f"serve-{label}.log"
    with log_path.open("wb") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shelfmark",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(server.url + "/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server was not ready after 120 s: see {log_path}")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()


def cache_counters(client: httpx.Client) -> dict[str, float]:
    """shelfmark_cache_* counters summed over routes; empty when the server has no cache."""
    totals: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("shelfmark_cache_") and "_total" in line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0].removesuffix("_total")
            totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Read:
    name: str
    path: str
    samples_ms: list[float] = field(default_factory=list)
    cache_hits: float | None = None
    cache_misses: float | None = None
    stopped_early: bool = False
    #: The machine's 1-minute load average before and after (other work on it shows here).
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples_ms, 99)


def percentile(samples: list[float], p: float) -> float:
    """Nearest rank, so p99 of 300 samples is the 297th smallest."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def measure(
    client: httpx.Client,
    name: str,
    paths: list[str],
    requests: int,
    warmup: int,
    budget_seconds: float,
) -> Read:
    """`warmup` untimed requests, then `requests` timed ones, going on through `paths` (one
    path: the same request each time; several: each read once if there are enough); stops
    early past `budget_seconds`."""
    for i in range(warmup):
        answer = client.get(paths[i % len(paths)])
        answer.raise_for_status()
    before = cache_counters(client)
    read = Read(name, paths[0])
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    for i in range(requests):
        path = paths[(warmup + i) % len(paths)]
        t0 = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - t0) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"{name}: {path} answered {answer.status_code}: {answer.text[:500]}")
        read.samples_ms.append(round(elapsed, 3))
        if time.monotonic() - started > budget_seconds:
            read.stopped_early = True
            break
    read.load = (round(load_before, 2), round(os.getloadavg()[0], 2))
    after = cache_counters(client)
    if before or after:
        read.cache_hits = after.get("shelfmark_cache_hits", 0) - before.get(
            "shelfmark_cache_hits", 0
        )
        read.cache_misses = after.get("shelfmark_cache_misses", 0) - before.get(
            "shelfmark_cache_misses", 0
        )
    log(
        f"  {name}: n={len(read.samples_ms)} p50={read.p50:.1f} ms p99={read.p99:.1f} ms "
        f"(load {read.load[0]:.1f} -> {read.load[1]:.1f})"
    )
    return read


def hyphenated(isbn: str) -> str:
    """979-9-1234-5678-9: hyphens where an ISBN-13 of the seeding block has them."""
    return f"{isbn[:3]}-{isbn[3]}-{isbn[4:8]}-{isbn[8:12]}-{isbn[12]}"


def walk(client: httpx.Client, depth: int) -> tuple[str, str, list[str]]:
    """Follows next_cursor `depth` pages from the first page of the title list; returns the
    second page's cursor, the deep one, and every book id seen on the way."""
    ids: list[str] = []
    cursors: list[str] = []
    path = "/books"
    for _ in range(depth):
        body = client.get(path).json()
        ids += [b["id"] for b in body["items"]]
        cursors.append(body["next_cursor"])
        path = f"/books?cursor={body['next_cursor']}"
    return cursors[0], cursors[-1], ids


def run_size(backend: str, size: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"backend": backend, "books": size}
    with fresh_database(backend, size, args.keep) as (url, seeded):
        env = (
            os.environ
            | SERVER_ENV
            | {
                "DATABASE_URL": url,
                "SHELFMARK_VAR_DIR": str(work / "var"),
            }
        )
        if seeded:
            log(f"{backend} {size:,}: reusing the database kept by an earlier run")
            result["seed_seconds"] = None
        else:
            log(f"{backend} {size:,}: seeding")
            t0 = time.monotonic()
            subprocess.run(
                [*SHELFMARK, "seed", "--books", str(size), "--patrons", str(PATRONS)],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=3600,
            )
            result["seed_seconds"] = round(time.monotonic() - t0, 1)
            log(f"  seeded in {result['seed_seconds']} s")
            if backend == "postgres":
                asyncio.run(_fetch(database_name(url), "VACUUM ANALYZE"))
            if args.keep:
                mark_seeded(url)
        result["matching_word"] = matching_entries(url, args.word)
        matching = f"{result['matching_word']:,} entries hold {args.word!r}"
        log(f"  {matching}")

        reads: list[Read] = []
        with (
            serving(env | NO_CACHE, work, f"{backend}-{size}") as server,
            httpx.Client(base_url=server.url, timeout=120) as client,
        ):
            result["cache"] = "# TYPE shelfmark_cache_hits" in client.get("/metrics").text
            second, deep, ids = walk(client, args.depth)
            first = client.get("/books?limit=1").json()["items"][0]
            isbn = hyphenated(first["isbn"])
            found = client.get("/books", params={"q": isbn}).json()["items"]
            assert [b["id"] for b in found] == [first["id"]], (isbn, found)
            budget, n, w = args.budget, args.requests, args.warmup

            def timed(name: str, *paths: str) -> None:
                reads.append(measure(client, name, list(paths), n, w, budget))

            timed("search_word", f"/books?q={args.word}")
            timed("search_isbn", f"/books?q={isbn}")
            timed("first_page", "/books")
            timed("second_page", f"/books?cursor={second}")
            timed(f"page_{args.depth}", f"/books?cursor={deep}")
            # Distinct books, none read before (the warm-up reads others).
            timed("book", *(f"/books/{i}" for i in ids))
        if result["cache"]:
            with (
                serving(env, work, f"{backend}-{size}-cached") as server,
                httpx.Client(base_url=server.url, timeout=120) as client,
            ):
                hot = [f"/books/{i}" for i in ids[w : w + n]]
                for path in hot:  # fills the cache; the timed pass then hits every time
                    client.get(path).raise_for_status()
                reads.append(measure(client, "book_cached", hot, n, 0, budget))
                reads.append(
                    measure(client, "search_word_cached", [f"/books?q={args.word}"], n, w, budget)
                )
        result["isbn"] = isbn
        result["deep_cursor_depth"] = args.depth
        result["reads"] = [asdict(r) | {"p50_ms": r.p50, "p99_ms": r.p99} for r in reads]
    return result


# --- the report -----------------------------------------------------------------------------


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    try:
        pg_version = asyncio.run(_fetch("postgres", "SELECT current_setting($1)", "server_version"))
    except (OSError, asyncpg.PostgresError):
        pg_version = "unreachable"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            p: version(p) for p in ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "httpx")
        },
    }


LABELS = {
    "search_word": "`GET /books?q={word}`",
    "search_isbn": "`GET /books?q=979-9-…` (an ISBN, hyphenated)",
    "first_page": "`GET /books` (first page)",
    "second_page": "`GET /books?cursor=…` (page 2)",
    "book": "`GET /books/{{id}}` (distinct ids)",
    "book_cached": "`GET /books/{{id}}`, cached",
    "search_word_cached": "`GET /books?q={word}`, cached",
}


def label(name: str, result: dict[str, Any], word: str) -> str:
    if name.startswith("page_"):
        return f"`GET /books?cursor=…` (page {name.removeprefix('page_')})"
    return LABELS[name].format(word=word, isbn=result["isbn"])


def report(raw: dict[str, Any]) -> str:
    """The Markdown page for one run's raw numbers (what read_side.json holds)."""
    info, results, settings = raw["machine"], raw["results"], raw["settings"]
    word = settings["word"]
    cached = any(r.get("cache") for r in results)
    lines = [
        f"# Read side: search, keyset pages and one book, {raw['when'][:16].replace('T', ' ')} UTC",
        "",
        "Written by `bench/read_side.py` (`make bench-read`); every sample in "
        "[read_side.json](read_side.json).",
        "",
        "One client, one request at a time over one keep-alive connection (httpx), against a "
        "real `shelfmark serve` process (uvicorn, one process) on the loopback; latency measured "
        f"at the client. {settings['warmup']} warm-up requests, then {settings['requests']} "
        "timed ones per read (fewer where a read ran out of its time budget: marked *). One "
        "database per size, filled by `shelfmark seed` (1-3 copies per book); PostgreSQL "
        "vacuumed and analysed after seeding. "
        + (
            "This run reused databases seeded (and vacuumed) by an earlier run with `--keep`. "
            if any(r["seed_seconds"] is None for r in results)
            else ""
        )
        + "The ISBN is one seeded book's, hyphenated "
        f"(979-9-…); the deep page is page {settings['depth']} of the title list, reached by "
        "following `next_cursor`.",
        "",
        f"Cache: {'present' if cached else 'not yet'}. "
        + (
            "The plain rows are timed against a server whose cache entries expire at once "
            "(`SHELFMARK_CACHE_TTL_SECONDS=0.000001`: every request a miss), so they measure "
            "the index and the queries; the rows marked cached against the default cache, "
            "every request a hit (hits and misses counted from /metrics, in the JSON)."
            if cached
            else "The server answered every read from the database."
        ),
        "",
        f"Goals (issue): every p99 under {GOAL_MS:.0f} ms at 1M books on PostgreSQL; a deep "
        "page costing what the first one does.",
    ]
    for backend in dict.fromkeys(r["backend"] for r in results):
        runs = [r for r in results if r["backend"] == backend]
        header = "| read | " + " | ".join(f"{r['books']:,} p50 | p99" for r in runs) + " |"
        lines += ["", f"## {backend} (ms)", "", header, "|---|" + "---:|---:|" * len(runs)]
        for name in dict.fromkeys(read["name"] for r in runs for read in r["reads"]):
            cells = []
            for r in runs:
                read = next((x for x in r["reads"] if x["name"] == name), None)
                if read is None:
                    cells += ["", ""]
                    continue
                short = "*" if read["stopped_early"] else ""
                over = (
                    backend == "postgres" and r["books"] == max(SIZES) and read["p99_ms"] >= GOAL_MS
                )
                p99 = f"**{read['p99_ms']:.1f}**" if over else f"{read['p99_ms']:.1f}"
                cells += [f"{read['p50_ms']:.1f}{short}", p99]
            lines.append(f"| {label(name, runs[0], word)} | " + " | ".join(cells) + " |")
        loads = [f"{max(max(x['load']) for x in r['reads']):.1f} | " for r in runs]
        lines.append(f"| *load (1-min average, highest)* | {' | '.join(loads)}|")
        lines.append("")
        lines.append(
            f"Entries holding {word!r}: "
            + ", ".join(f"{r['matching_word']:,} of {r['books']:,}" for r in runs)
            + ". Seeding: "
            + ", ".join(
                "reused" if r["seed_seconds"] is None else f"{r['seed_seconds']} s" for r in runs
            )
            + "."
        )
    lines += [
        "",
        "Bold: a p99 over the goal. Neither database ranks a common word: PostgreSQL ranks "
        "(`ts_rank` over a stored word vector) only words held by at most about 2,000 entries "
        "(told by sampling 1,000 entries in popularity order), SQLite (bm25) only words held "
        "by at most 1,000 (counted, stopping there); a more common word, as 'garden' is from "
        "100,000 books on, lists its entries by popularity. PostgreSQL's pages walk the "
        "popularity index and stop; SQLite's walk it too, but first gather FTS5's list of "
        "matches, which grows with the entries holding the word. Keyset pages and the ISBN "
        "search walk an index and stop. Compare each "
        "row with the cached ones: they are the same request without the database, so the "
        "difference is what the database part costs.",
        "",
        "## Machine and versions",
        "",
        f"- {info['cores']} cores, {info['cpu']}, {info['memory_gb']} GB RAM, {info['os']}",
        f"- Python {info['python']}, PostgreSQL {info['postgresql']}, SQLite {info['sqlite']}",
        "- " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()),
        f"- commit {raw['commit']}; client, server and PostgreSQL share the machine (not "
        "pinned); the load row is the highest 1-minute load average seen around the reads "
        f"(above {info['cores']}: other work competed for the cores, and the p99s show it)",
        f"- the whole run took {raw['minutes']:.0f} min: `{raw['command']}`",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--requests", type=int, default=300, help="timed requests per read")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--depth", type=int, default=50, help="pages followed for the deep one")
    parser.add_argument("--word", default="garden", help="a word some seeded titles hold")
    parser.add_argument("--budget", type=float, default=240, help="seconds per read at most")
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases, and reuse the ones kept before"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--render", type=Path, help="only write the Markdown again from this run's JSON"
    )
    args = parser.parse_args()
    if args.render:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "read_side.md").write_text(report(json.loads(args.render.read_text())))
        return
    # `timeout` (or Ctrl-C) ends the run through the finally blocks: server stopped, databases
    # dropped, the seeding subprocess killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="shelfmark-bench-read-") as tmp:
        for backend in args.backends.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                results.append(run_size(backend, size, args, Path(tmp)))
    changed = git("status", "--porcelain", "--", ".", ":(exclude)bench/results")
    dirty = " plus uncommitted changes" if changed else ""
    raw = {
        "when": datetime.now(UTC).isoformat(),
        "commit": git("rev-parse", "--short", "HEAD") + dirty,
        "command": "make bench-read"
        + (f" BENCH_ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else ""),
        "minutes": round((time.monotonic() - started) / 60, 1),
        "settings": {k: getattr(args, k) for k in ("requests", "warmup", "depth", "word")},
        "machine": machine(),
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "read_side.json").write_text(json.dumps(raw, indent=1) + "\n")
    text = report(raw)
    (args.out / "read_side.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
