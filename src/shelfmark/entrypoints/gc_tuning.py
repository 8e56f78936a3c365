"""The garbage collector's settings for a process that serves for hours: `serve` and the workers.

CPython finds reference cycles by walking every container object it tracks. A full collection
of the API process walked about 210,000 of them, most made at start-up (modules, classes, the
routes' schemas, SQLAlchemy's tables), and took 100-130 ms; under the 93/7 mix at 32 users it
ran every second or two, and every request in flight waited for it: it was the p99
(docs/performance.md). So once started, the process collects what start-up left behind and
freezes the rest, which no later collection walks (it is still freed when its last reference
goes; a cycle that runs through a frozen object is never collected, which is why start-up's
garbage is collected first), and collects its young objects less often, so that fewer of the
objects of the requests in flight at each collection are promoted to the oldest generation,
whose growth is what starts a full collection.
"""

from __future__ import annotations

import gc

#: New tracked objects, net of those freed, between two young collections (CPython 3.11: 700).
YOUNG_THRESHOLD = 10_000


def freeze_start_up() -> None:
    """Collect start-up's garbage, freeze what is left, and collect the young less often."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
