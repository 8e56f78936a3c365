"""Leaving a load balancer's rotation without dropping a request.

Behind nginx, a process stopped the usual way (uvicorn closes every idle kept-alive connection
at once) races nginx: a request nginx has just written on such a connection gets no answer, and
nginx may not send a POST anywhere else. So on SIGTERM a `DrainingServer` first stops accepting
connections (nginx then tries the next process: nothing was sent), answers every request on the
connections it already has with `Connection: close`, and waits up to `drain_seconds` for them to
go. It closes none itself: nginx closes a connection after a `Connection: close` answer, and an
idle one once its upstream `keepalive_timeout` (shorter than the drain) has passed. Then uvicorn
shuts down as usual.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Drain:
    """Whether this process is leaving: set once, never cleared."""

    def __init__(self) -> None:
        self.started = False


class ClosingWhileDraining:
    """Marks every answer `Connection: close` once the drain has started; before, it only
    passes the call on."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.drain.started or scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        return await self.app(scope, receive, closing)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.drain_seconds = drain_seconds

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.drain_seconds > 0 and not self.force_exit:
            for server in self.servers:
                server.close()  # new connections are refused from here on
            self.drain.started = True
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.drain_seconds
            while self.server_state.connections and loop.time() < deadline:
                if self.force_exit:  # a second Ctrl-C
                    break
                await asyncio.sleep(0.05)
        await super().shutdown(sockets)


def draining_server(app: ASGIApp, host: str, port: int, drain_seconds: float) -> DrainingServer:
    """A uvicorn server for `app` that drains for `drain_seconds` on SIGTERM (0: it does not)."""
    drain = Drain()
    served = ClosingWhileDraining(app, drain) if drain_seconds > 0 else app
    config = uvicorn.Config(served, host=host, port=port, log_level="warning", access_log=False)
    return DrainingServer(config, drain, drain_seconds)
