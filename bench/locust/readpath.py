"""One read, over and over: `GET BENCH_READ_PATH` (default `/books?q=garden`), no think time.

bench/run.py drives Shelfmark and the bare ASGI app (bench/ceiling_app.py) with this same user,
so the two throughputs differ only in what the server does per request.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

sys.path.insert(0, str(Path(__file__).parent))
import measure  # noqa: F401 (the directory is put on the path first)

READ_PATH = os.environ.get("BENCH_READ_PATH", "/books?q=garden")


class ReadPathUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def read(self) -> None:
        self.client.get(READ_PATH, name="read path")
