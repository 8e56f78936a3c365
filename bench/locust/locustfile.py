"""Library traffic for Locust: browsing patrons, borrowers and librarians, 93% reads / 7% writes.

    locust -f bench/locust/locustfile.py --host http://127.0.0.1:8000       # web UI
    BENCH_SHAPE=steps locust -f bench/locust/locustfile.py --headless ...   # a load shape

Who does what (class weights 60 / 30 / 10):

- BrowsingPatron, anonymous: searches the catalogue (`GET /books?q=`) and opens books.
- Borrower, a patron who logs in with e-mail and password: views own loans and holds, searches,
  opens books, borrows (`POST /books/{id}/borrow`), renews, places holds and cancels them.
  Returning is done at the desk (staff only), so the librarian does it.
- Librarian, staff: lists active loans and patrons, opens books, returns loans at the desk
  (`POST /loans/{id}/return`), adds books and copies, registers patrons.

Task weights give about 7% writes (POSTs other than the logins) when requests take similar
times; the runner prints the mix it really produced at the end, counted by method and outcome.
A business refusal (409: no copy available, renewal limit, duplicate hold, ...) is an expected
answer and counts as `refused`, not as a failure; anything else unexpected (5xx, 429, 401,
connection errors) is a failure.

Data: BENCH_FIXTURES names a JSON file written by bench/run.py (staff login, patrons with a
password, book ids, search terms). Without it, the librarian logs in as BENCH_STAFF_USER /
BENCH_STAFF_PASSWORD (default admin / change-me-admin-password, as in the README), each
borrower is registered with a password by that staff account first, and book ids come from the
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
from pathlib import Path
from typing import Any

from locust import between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

sys.path.insert(0, str(Path(__file__).parent))
import measure  # noqa: F401 (the directory is put on the path first)
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

if os.environ.get("BENCH_SHAPE"):
    SelectedShape = shapes.SHAPES[os.environ["BENCH_SHAPE"]]  # the one shape Locust sees

# The mix: requests counted by kind (read = GET, write = POST except logins, login) and outcome.
MIX: Counter[str] = Counter()


def _wait_time() -> Any:
    return between(THINK / 2, THINK * 1.5) if THINK > 0 else constant(0)


class LibraryUser(FastHttpUser):
    abstract = True
    wait_time = _wait_time()
    token: str | None = None

    def call(
        self,
        method: str,
        path: str,
        name: str,
        expected: tuple[int, ...] = (200,),
        refused: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> Any:
        """One request; returns the parsed JSON body of an expected answer, else None."""
        if self.token:
            kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {self.token}"
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
                self.token = None  # expired: log in again before the next task
            return None

    def login(self, username: str, password: str) -> dict[str, Any] | None:
        self.token = None
        body = self.call(
            "POST",
            "/auth/token",
            "POST /auth/token",
            data={"username": username, "password": password},
        )
        self.token = body["access_token"] if body else None
        return body

    def book_id(self) -> str | None:
        if not BOOK_IDS:
            body = self.call("GET", "/books?limit=200", "GET /books?limit=200")
            BOOK_IDS.extend(item["id"] for item in (body or {}).get("items", []))
        return random.choice(BOOK_IDS) if BOOK_IDS else None

    def search(self) -> None:
        self.call("GET", f"/books?q={random.choice(SEARCH_TERMS)}", "GET /books?q=")

    def view_book(self) -> None:
        if book := self.book_id():
            self.call("GET", f"/books/{book}", "GET /books/{id}")


class BrowsingPatron(LibraryUser):
    """Anonymous: searches the catalogue and opens books."""

    weight = 60

    @task(3)
    def search_catalogue(self) -> None:
        self.search()

    @task(2)
    def open_book(self) -> None:
        self.view_book()


class Borrower(LibraryUser):
    """A patron with a login: own loans and holds, borrowing, renewing, holds."""

    weight = 30
    patron_id: str | None = None
    email = ""
    password = ""

    def on_start(self) -> None:
        self.loans: list[str] = []
        self.hold: str | None = None
        if FIXTURES.get("patrons"):
            patron = random.choice(FIXTURES["patrons"])
            self.patron_id, self.email = patron["id"], patron["email"]
            self.password = FIXTURES["patron_password"]
        else:
            self.register_self()
        self.login(self.email, self.password)

    def register_self(self) -> None:
        """No fixtures: staff register this borrower with a password first."""
        self.login(STAFF["username"], STAFF["password"])
        self.email = f"locust-{uuid.uuid4().hex[:12]}@example.net"
        self.password = uuid.uuid4().hex
        body = self.call(
            "POST",
            "/patrons",
            "POST /patrons",
            expected=(201,),
            json={
                "first_name": "Load",
                "last_name": "Test",
                "email": self.email,
                "password": self.password,
            },
        )
        self.patron_id = body["id"] if body else None

    def ready(self) -> bool:
        if self.token is None and self.email:
            self.login(self.email, self.password)
        return self.token is not None and self.patron_id is not None

    @task(12)
    def own_loans(self) -> None:
        if not self.ready():
            return
        body = self.call("GET", f"/patrons/{self.patron_id}/loans", "GET /patrons/{id}/loans")
        if body:
            self.loans = [
                loan["id"] for loan in body["items"] if loan["status"] in ("active", "overdue")
            ]

    @task(2)
    def own_holds(self) -> None:
        if self.ready():
            self.call("GET", f"/patrons/{self.patron_id}/holds", "GET /patrons/{id}/holds")

    @task(8)
    def search_catalogue(self) -> None:
        self.search()

    @task(8)
    def open_book(self) -> None:
        self.view_book()

    @task(2)
    def borrow(self) -> None:
        book = self.book_id()
        if self.ready() and book:
            body = self.call(
                "POST",
                f"/books/{book}/borrow",
                "POST /books/{id}/borrow",
                expected=(201,),
                refused=(409,),
                json={"patron_id": self.patron_id},
            )
            if body:
                self.loans.append(body["id"])

    @task(1)
    def renew(self) -> None:
        if self.ready() and self.loans:
            self.call(
                "POST",
                f"/loans/{random.choice(self.loans)}/renew",
                "POST /loans/{id}/renew",
                refused=(409,),
            )

    @task(1)
    def place_or_cancel_hold(self) -> None:
        if not self.ready():
            return
        if self.hold:
            hold, self.hold = self.hold, None
            self.call("POST", f"/holds/{hold}/cancel", "POST /holds/{id}/cancel", refused=(409,))
            return
        book = self.book_id()
        if book:
            body = self.call(
                "POST",
                f"/books/{book}/holds",
                "POST /books/{id}/holds",
                expected=(201,),
                refused=(409,),
                json={"patron_id": self.patron_id},
            )
            self.hold = body["id"] if body else None


class Librarian(LibraryUser):
    """Staff at the desk: returns, new books and copies, new patrons."""

    weight = 10

    def on_start(self) -> None:
        self.active_loans: list[str] = []
        self.login(STAFF["username"], STAFF["password"])

    def ready(self) -> bool:
        if self.token is None:
            self.login(STAFF["username"], STAFF["password"])
        return self.token is not None

    @task(4)
    def list_active_loans(self) -> None:
        if not self.ready():
            return
        cursor = random.choice(("", "&limit=100", "&limit=200"))
        body = self.call("GET", f"/loans?status=active{cursor}", "GET /loans?status=active")
        if body:
            self.active_loans = [loan["id"] for loan in body["items"]]
            random.shuffle(self.active_loans)

    @task(3)
    def find_patron(self) -> None:
        if self.ready():
            self.call("GET", f"/patrons?q={random.choice(SEARCH_TERMS)}", "GET /patrons?q=")

    @task(3)
    def open_book(self) -> None:
        self.view_book()

    @task(4)
    def desk_return(self) -> None:
        if self.ready() and self.active_loans:
            loan = self.active_loans.pop()
            self.call("POST", f"/loans/{loan}/return", "POST /loans/{id}/return", refused=(409,))

    @task(1)
    def add_book(self) -> None:
        if not self.ready():
            return
        body = self.call(
            "POST",
            "/books",
            "POST /books",
            expected=(201,),
            json={"title": f"Load Test {uuid.uuid4().hex[:8]}", "author": "Locust", "copies": 1},
        )
        if body:
            BOOK_IDS.append(body["id"])

    @task(1)
    def add_copy(self) -> None:
        book = self.book_id()
        if self.ready() and book:
            self.call(
                "POST", f"/books/{book}/copies", "POST /books/{id}/copies", expected=(201,), json={}
            )

    @task(1)
    def register_patron(self) -> None:
        if self.ready():
            self.call(
                "POST",
                "/patrons",
                "POST /patrons",
                expected=(201,),
                json={
                    "first_name": "Walk",
                    "last_name": "In",
                    "email": f"walkin-{uuid.uuid4().hex[:12]}@example.net",
                },
            )


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
