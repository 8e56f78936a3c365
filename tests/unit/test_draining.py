"""The drain's answers: `Connection: close` on every answer started once the drain has begun,
a request already running at SIGTERM included; nothing changed before it."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from shelfmark.entrypoints.http.draining import ClosingWhileDraining, Drain


async def answers(app: ClosingWhileDraining) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/"}, receive, send)
    return sent


def an_app(drain: Drain, *, sigterm_while_running: bool) -> ClosingWhileDraining:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if sigterm_while_running:
            drain.started = True
        headers = [(b"content-type", b"text/plain"), (b"connection", b"keep-alive")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return ClosingWhileDraining(app, drain)


async def test_before_the_drain_an_answer_is_passed_on_as_it_is() -> None:
    start, body = await answers(an_app(Drain(), sigterm_while_running=False))
    assert start["headers"] == [(b"content-type", b"text/plain"), (b"connection", b"keep-alive")]
    assert body["body"] == b"ok"


async def test_a_request_running_when_the_drain_begins_closes_its_connection() -> None:
    start, body = await answers(an_app(Drain(), sigterm_while_running=True))
    assert start["headers"] == [(b"content-type", b"text/plain"), (b"connection", b"close")]
    assert body["body"] == b"ok"
