"""Leaving a load balancer's rotation without dropping a request.

Behind nginx, a process stopped the usual way (uvicorn closes every idle kept-alive connection
at once) races nginx: a request nginx has just written on such a connection gets no answer, and
nginx does not send a POST anywhere else. So on SIGTERM a `DrainingServer` first stops
listening (nginx's new connections are refused, and it tries the next process), answers every
request from then on with `Connection: close` (one already running included), and waits up to
`drain_seconds` for its connections to go. It closes none itself: nginx closes a connection
after a `Connection: close` answer, and an idle one once its upstream `keepalive_timeout`
(shorter than the drain) has passed. Then uvicorn shuts down as usual.

What it cannot help: a connection nginx opened that still waits in the listening socket's
backlog when the socket closes is reset, and a request nginx wrote on it fails (the kernel
completed the handshake before the process saw it). Only a balancer that stops sending first
(a reload, a Kubernetes endpoint removed before the preStop pause ends) avoids that window.
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
    """Marks every answer started after the drain began `Connection: close`, a request that was
    already running included."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.drain.started:
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
