"""Library traffic for Locust: browsing patrons, borrowers and librarians, 93% reads / 7% writes.

    locust -f bench/locust/locustfile.py --host http://127.0.0.1:8000       # web UI
    BENCH_SHAPE=steps locust -f bench/locust/locustfile.py --headless ...   # a load shape

One user class, `Library`, whose tasks are what three kinds of people do, weighted so that
they make 60 / 30 / 10 per cent of all tasks:

- a browsing patron, anonymous: searches the catalogue (`GET /books?q=`) and opens books;
- a borrower, logged in with e-mail and password: views own loans and holds, searches, opens
  books, borrows (`POST /books/{id}/borrow`), renews, places holds and cancels them (returning
  is done at the desk, by staff);
- a librarian, staff: lists active loans and patrons, opens books, returns loans at the desk
  (`POST /loans/{id}/return`), adds books and copies, registers patrons.

Each user is both a patron with a login and a member of staff (the logins are shared, see
`PATRON_LOGINS`). One class rather than three,
because a closed-loop user's rate follows its latency: with a class per person, the users
whose requests are cheap (cached catalogue reads) sent more of them as the server got faster,
and the writes' share fell from 7% to 3-5%. Picked by weight per task, every request's share is
its weight whatever it costs: 7.6% writes (POSTs other than the logins), of which some are
business refusals. The runner prints the mix it really produced at the end, counted by method
and outcome. A refusal (409: no copy available, renewal limit, duplicate hold, ...) is an
expected answer and counts as `refused`, not as a failure; anything else unexpected (5xx, 429,
401, connection errors) is a failure.

Data: BENCH_FIXTURES names a JSON file written by bench/run.py (staff login, patrons with a
password, book ids, search terms). Without it, staff log in as BENCH_STAFF_USER /
BENCH_STAFF_PASSWORD (default admin / change-me-admin-password, as in the README), each user's
patron is registered with a password by that staff account first, and book ids come from the
catalogue's first page. BENCH_THINK_SECONDS (default 0) is the mean pause between tasks.
BENCH_MIX_FILE, if set, receives the mix as JSON when the run ends.
"""

# ruff: noqa: S311 (random picks of test data, not secrets)
from __future__ import annotations

import json
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gevent.lock import Semaphore
from locust import between, constant, events
from locust.contrib.fasthttp import FastHttpUser

sys.path.insert(0, str(Path(__file__).parent))
import measure  # noqa: F401 (the directory is put on the path first)
import mix
import shapes

SEARCH_TERMS_DEFAULT = ["garden", "river", "library", "silent", "lisbon", "chen", "maria"]
FIXTURES: dict[str, Any] = {}
if os.environ.get("BENCH_FIXTURES"):
    FIXTURES = json.loads(Path(os.environ["BENCH_FIXTURES"]).read_text())
SEARCH_TERMS: list[str] = FIXTURES.get("search_terms", SEARCH_TERMS_DEFAULT)
BOOK_IDS: list[str] = list(FIXTURES.get("book_ids", []))
STAFF = FIXTURES.get("staff") or {
    "username": os.environ.get("BENCH_STAFF_USER", "admin"),
    "password": os.environ.get("BENCH_STAFF_PASSWORD", "change-me-admin-password"),
}
THINK = float(os.environ.get("BENCH_THINK_SECONDS", "0"))

#: Logins in this process, one at a time (each costs the server an Argon2 verification, about
#: 0.2 s of CPU here): one for staff, shared by every user, and one per patron for the first
#: BENCH_PATRON_LOGINS users (default 16); later users share those patrons' logins in turn.
PATRON_LOGINS = int(os.environ.get("BENCH_PATRON_LOGINS", "16"))
LOGINS = Semaphore()
SESSIONS: dict[str, Any] = {"staff": None, "patrons": [], "started": 0}

if os.environ.get("BENCH_SHAPE"):
    SelectedShape = shapes.SHAPES[os.environ["BENCH_SHAPE"]]  # the one shape Locust sees

# The mix: requests counted by kind (read = GET, write = POST except logins, login) and outcome.
MIX: Counter[str] = Counter()


def _wait_time() -> Any:
    return between(THINK / 2, THINK * 1.5) if THINK > 0 else constant(0)


class Library(FastHttpUser):
    """One user stands for the library's traffic: each task is what a browsing patron, a
    borrower or a librarian does next, picked by weight (`tasks`, below). A user is both a
    patron with a login and a member of staff, so a task needs no user of its own."""

    wait_time = _wait_time()
    patron_token: str | None = None
    staff_token: str | None = None
    patron_id: str | None = None
    email = ""
    password = ""

    def on_start(self) -> None:
        self.loans: list[str] = []
        self.hold: str | None = None
        self.active_loans: list[str] = []
        with LOGINS:
            if not SESSIONS["staff"]:
                SESSIONS["staff"] = self.login(STAFF["username"], STAFF["password"]) or ""
            patrons = SESSIONS["patrons"]
            if len(patrons) < PATRON_LOGINS:
                self.new_patron()
                patrons.append((self.patron_id, self.email, self.password, self.patron_token))
            else:
                identity = patrons[SESSIONS["started"] % len(patrons)]
                self.patron_id, self.email, self.password, self.patron_token = identity
            SESSIONS["started"] += 1
        self.staff_token = SESSIONS["staff"] or None

    def new_patron(self) -> None:
        if FIXTURES.get("patrons"):
            patron = random.choice(FIXTURES["patrons"])
            self.patron_id, self.email = patron["id"], patron["email"]
            self.password = FIXTURES["patron_password"]
        else:
            self.staff_token = SESSIONS["staff"] or None
            self.register_self()
        self.patron_token = self.login(self.email, self.password)

    def call(
        self,
        method: str,
        path: str,
        name: str,
        expected: tuple[int, ...] = (200,),
        refused: tuple[int, ...] = (),
        as_: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """One request, anonymous or `as_` "patron" or "staff"; returns the parsed JSON body
        of an expected answer, else None."""
        token = {"patron": self.patron_token, "staff": self.staff_token}.get(as_ or "")
        if token:
            kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {token}"
        kind = "login" if path == "/auth/token" else "read" if method == "GET" else "write"
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as r:
            if r.status_code in expected:
                r.success()
                MIX[f"{kind} ok"] += 1
                try:
                    return r.json()
                except ValueError:
                    return None
            if r.status_code in refused:
                r.success()
                MIX[f"{kind} refused"] += 1
                return None
            r.failure(f"HTTP {r.status_code}")
            MIX[f"{kind} error"] += 1
            if r.status_code == 401 and kind != "login":
                self.forget(as_)  # expired: log in again before the next task
            return None

    def login(self, username: str, password: str) -> str | None:
        body = self.call(
            "POST",
            "/auth/token",
            "POST /auth/token",
            data={"username": username, "password": password},
        )
        return body["access_token"] if body else None

    def forget(self, as_: str | None) -> None:
        if as_ == "patron":
            self.patron_token = None
        elif as_ == "staff":
            self.staff_token = None

    def register_self(self) -> None:
        """No fixtures: staff register this borrower with a password first."""
        self.email = f"locust-{uuid.uuid4().hex[:12]}@example.net"
        self.password = uuid.uuid4().hex
        body = self.call(
            "POST",
            "/patrons",
            "POST /patrons",
            expected=(201,),
            as_="staff",
            json={
                "first_name": "Load",
                "last_name": "Test",
                "email": self.email,
                "password": self.password,
            },
        )
        self.patron_id = body["id"] if body else None

    def patron_ready(self) -> bool:
        if self.patron_token is None and self.email:
            self.patron_token = self.login(self.email, self.password)
        return self.patron_token is not None and self.patron_id is not None

    def staff_ready(self) -> bool:
        if self.staff_token is None:
            self.staff_token = self.login(STAFF["username"], STAFF["password"])
        return self.staff_token is not None

    def book_id(self) -> str | None:
        if not BOOK_IDS:
            body = self.call("GET", "/books?limit=200", "GET /books?limit=200")
            BOOK_IDS.extend(item["id"] for item in (body or {}).get("items", []))
        return random.choice(BOOK_IDS) if BOOK_IDS else None

    def search(self, as_: str | None = None) -> None:
        self.call("GET", f"/books?q={random.choice(SEARCH_TERMS)}", "GET /books?q=", as_=as_)

    def view_book(self, as_: str | None = None) -> None:
        if book := self.book_id():
            self.call("GET", f"/books/{book}", "GET /books/{id}", as_=as_)


# --- A browsing patron, anonymous: searches the catalogue and opens books. ----------------


def browse_search(user: Library) -> None:
    user.search()


def browse_book(user: Library) -> None:
    user.view_book()


# --- A borrower, logged in: own loans and holds, borrowing, renewing, holds. --------------


def own_loans(user: Library) -> None:
    if not user.patron_ready():
        return
    body = user.call(
        "GET", f"/patrons/{user.patron_id}/loans", "GET /patrons/{id}/loans", as_="patron"
    )
    if body:
        open_ones = ("active", "overdue")
        user.loans = [loan["id"] for loan in body["items"] if loan["status"] in open_ones]


def own_holds(user: Library) -> None:
    if user.patron_ready():
        path = f"/patrons/{user.patron_id}/holds"
        user.call("GET", path, "GET /patrons/{id}/holds", as_="patron")


def borrower_search(user: Library) -> None:
    user.search(as_="patron")


def borrower_book(user: Library) -> None:
    user.view_book(as_="patron")


def borrow(user: Library) -> None:
    book = user.book_id()
    if user.patron_ready() and book:
        body = user.call(
            "POST",
            f"/books/{book}/borrow",
            "POST /books/{id}/borrow",
            expected=(201,),
            refused=(409,),
            as_="patron",
            json={"patron_id": user.patron_id},
        )
        if body:
            user.loans.append(body["id"])


def renew(user: Library) -> None:
    if user.patron_ready() and user.loans:
        loan = random.choice(user.loans)
        user.call(
            "POST", f"/loans/{loan}/renew", "POST /loans/{id}/renew", refused=(409,), as_="patron"
        )


def place_or_cancel_hold(user: Library) -> None:
    if not user.patron_ready():
        return
    if user.hold:
        hold, user.hold = user.hold, None
        user.call(
            "POST", f"/holds/{hold}/cancel", "POST /holds/{id}/cancel", refused=(409,), as_="patron"
        )
        return
    if book := user.book_id():
        body = user.call(
            "POST",
            f"/books/{book}/holds",
            "POST /books/{id}/holds",
            expected=(201,),
            refused=(409,),
            as_="patron",
            json={"patron_id": user.patron_id},
        )
        user.hold = body["id"] if body else None


# --- A librarian at the desk: returns, new books and copies, new patrons. -----------------


def list_active_loans(user: Library) -> None:
    if not user.staff_ready():
        return
    cursor = random.choice(("", "&limit=100", "&limit=200"))
    path = f"/loans?status=active{cursor}"
    body = user.call("GET", path, "GET /loans?status=active", as_="staff")
    if body:
        user.active_loans = [loan["id"] for loan in body["items"]]
        random.shuffle(user.active_loans)


def find_patron(user: Library) -> None:
    if user.staff_ready():
        path = f"/patrons?q={random.choice(SEARCH_TERMS)}"
        user.call("GET", path, "GET /patrons?q=", as_="staff")


def librarian_book(user: Library) -> None:
    user.view_book(as_="staff")


def desk_return(user: Library) -> None:
    if user.staff_ready() and user.active_loans:
        loan = user.active_loans.pop()
        user.call(
            "POST", f"/loans/{loan}/return", "POST /loans/{id}/return", refused=(409,), as_="staff"
        )


def add_book(user: Library) -> None:
    if not user.staff_ready():
        return
    body = user.call(
        "POST",
        "/books",
        "POST /books",
        expected=(201,),
        as_="staff",
        json={"title": f"Load Test {uuid.uuid4().hex[:8]}", "author": "Locust", "copies": 1},
    )
    if body:
        BOOK_IDS.append(body["id"])


def add_copy(user: Library) -> None:
    book = user.book_id()
    if user.staff_ready() and book:
        path = f"/books/{book}/copies"
        user.call("POST", path, "POST /books/{id}/copies", expected=(201,), as_="staff", json={})


def register_patron(user: Library) -> None:
    if user.staff_ready():
        user.call(
            "POST",
            "/patrons",
            "POST /patrons",
            expected=(201,),
            as_="staff",
            json={
                "first_name": "Walk",
                "last_name": "In",
                "email": f"walkin-{uuid.uuid4().hex[:12]}@example.net",
            },
        )


#: Each task of the shared table (mix.py) is the function of its name above.
WEIGHTS: dict[Callable[[Library], None], int] = {
    globals()[name]: weight for name, weight in mix.WEIGHTS.items()
}
# As Locust's own class machinery would list them (each task as many times as its weight);
# set after the class, since the tasks take the class's users.
Library.tasks = [do for do, weight in WEIGHTS.items() for _ in range(weight)]


# The mix, across processes: workers send their counts to the master with each report.


@events.report_to_master.add_listener
def _send_mix(client_id: str, data: dict[str, Any]) -> None:
    data["mix"] = dict(MIX)
    MIX.clear()


@events.worker_report.add_listener
def _receive_mix(client_id: str, data: dict[str, Any]) -> None:
    MIX.update(data.get("mix", {}))


@events.reset_stats.add_listener
def _reset_mix() -> None:
    MIX.clear()


def mix_summary(mix: Counter[str]) -> dict[str, Any]:
    reads = sum(v for k, v in mix.items() if k.startswith("read "))
    writes = sum(v for k, v in mix.items() if k.startswith("write "))
    total = reads + writes
    return {
        "counts": dict(sorted(mix.items())),
        "reads": reads,
        "writes": writes,
        "logins": sum(v for k, v in mix.items() if k.startswith("login ")),
        "read_share": reads / total if total else 0.0,
        "write_share": writes / total if total else 0.0,
    }


@events.quitting.add_listener
def _print_mix(environment: Any, **_: Any) -> None:
    if type(environment.runner).__name__ == "WorkerRunner":
        return
    summary = mix_summary(MIX)
    counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items())
    print(
        f"mix produced: {summary['read_share']:.1%} reads / {summary['write_share']:.1%} writes "
        f"of {summary['reads'] + summary['writes']} requests, logins not counted "
        f"({counts})",
        file=sys.stderr,
    )
    if os.environ.get("BENCH_MIX_FILE"):
        Path(os.environ["BENCH_MIX_FILE"]).write_text(json.dumps(summary))
