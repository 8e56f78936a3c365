"""Sends queued notifications: each is sent once, retried while the provider is unavailable,
and left waiting (without counting an attempt) while the mailer's breaker is open."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from shelfmark.notifications.application.ports import (
    Mailer,
    MailerPaused,
    MailRejected,
    NotificationQueue,
    OutgoingEmail,
)
from shelfmark.notifications.domain.model import FIRST_RETRY, Notification, Status
from shelfmark.seedwork.clock import Clock

#: A claimed message is hidden this long from other senders; a sender that died mid-send
#: leaves it to be tried again after that.
CLAIM_LEASE = timedelta(minutes=5)


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    paused: bool = False
    errors: list[str] = field(default_factory=list)


async def send_due(
    queue: NotificationQueue,
    mailer: Mailer,
    clock: Clock,
    *,
    max_attempts: int,
    limit: int,
    first_retry: timedelta = FIRST_RETRY,
) -> SendReport:
    report = SendReport()
    claimed = await queue.claim_due(clock.now(), CLAIM_LEASE, limit)
    for index, notification in enumerate(claimed):
        try:
            await mailer.send(email_of(notification))
        except MailerPaused:
            for waiting in claimed[index:]:
                await queue.release(waiting, clock.now())
            report.paused = True
            return report
        except MailRejected as error:
            notification.rejected(str(error))
        except Exception as error:  # the provider is unavailable: retry later
            notification.attempt_failed(clock.now(), repr(error), max_attempts, first_retry)
            report.errors.append(repr(error))
        else:
            notification.sent(clock.now())
        await queue.save(notification)
        _count(report, notification)
    return report


def _count(report: SendReport, notification: Notification) -> None:
    if notification.status is Status.SENT:
        report.sent += 1
    elif notification.status is Status.FAILED:
        report.failed += 1
    else:
        report.retrying += 1


def email_of(notification: Notification) -> OutgoingEmail:
    return OutgoingEmail(
        message_id=notification.message_id,
        to=notification.recipient,
        subject=notification.subject,
        text=notification.text,
        html=notification.html,
    )
