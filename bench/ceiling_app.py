"""The ceiling: a bare ASGI app that answers every GET with bytes captured from Shelfmark.

BENCH_CEILING_BODIES names a JSON file mapping a path prefix to a file of response bytes (the
longest matching prefix wins), written by bench/run.py from real Shelfmark answers. Served by the
same uvicorn settings as `shelfmark serve`, it is the most any Python app could do here per
request: no routing, no validation, no database, no middleware.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_MAP = json.loads(Path(os.environ["BENCH_CEILING_BODIES"]).read_text())
BODIES = sorted(
    ((prefix.encode(), Path(file).read_bytes()) for prefix, file in _MAP.items()),
    key=lambda item: -len(item[0]),
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start or stop
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    target = scope["path"].encode() + b"?" + scope["query_string"]
    body = next((b for prefix, b in BODIES if target.startswith(prefix)), b"{}")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
