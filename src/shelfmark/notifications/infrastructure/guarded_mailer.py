"""A mailer behind its circuit breaker, a timeout and a couple of quick retries."""

from __future__ import annotations

from shelfmark.notifications.application.ports import Mailer, MailerPaused, OutgoingEmail
from shelfmark.seedwork.infrastructure.breaker import CircuitBreaker, CircuitOpen
from shelfmark.seedwork.infrastructure.dependency import call_dependency


class GuardedMailer:
    """While the breaker is open nothing reaches the provider and MailerPaused is raised. A
    permanent refusal (MailRejected) is the breaker's `ignore`d kind: it says nothing about
    the provider's health."""

    def __init__(self, mailer: Mailer, breaker: CircuitBreaker, *, timeout: float) -> None:
        self._mailer = mailer
        self._breaker = breaker
        self._timeout = timeout

    async def send(self, email: OutgoingEmail) -> None:
        try:
            await call_dependency(
                self._breaker,
                lambda: self._mailer.send(email),
                timeout=self._timeout,
                attempts=2,
                retry_on=(OSError, TimeoutError),
            )
        except CircuitOpen as error:
            raise MailerPaused(str(error)) from error
