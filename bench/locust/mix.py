"""The 93/7 library mix's task weights, by task name: one table for Locust (locustfile.py,
where each name is a function) and for wrk (bench/wrk/mix.lua, handed the table by
bench/run.py). Weighted so that a browsing patron's, a borrower's and a librarian's tasks
make 60 / 30 / 10 per cent of all tasks."""

from __future__ import annotations

Tasks = dict[str, int]
BROWSING: Tasks = {"browse_search": 3, "browse_book": 2}
BORROWING: Tasks = {
    "own_loans": 12,
    "own_holds": 2,
    "borrower_search": 8,
    "borrower_book": 8,
    "borrow": 2,
    "renew": 1,
    "place_or_cancel_hold": 1,
}
AT_THE_DESK: Tasks = {
    "list_active_loans": 4,
    "find_patron": 3,
    "librarian_book": 3,
    "desk_return": 4,
    "add_book": 1,
    "add_copy": 1,
    "register_patron": 1,
}


def persona(share: int, tasks: Tasks) -> Tasks:
    """A person's tasks weighted so that together they make `share` per cent of all tasks."""
    total = sum(tasks.values())
    return {name: round(100 * share * weight / total) for name, weight in tasks.items()}


WEIGHTS: Tasks = {**persona(60, BROWSING), **persona(30, BORROWING), **persona(10, AT_THE_DESK)}
