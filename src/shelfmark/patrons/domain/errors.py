"""Patron errors."""

from shelfmark.seedwork.domain import Conflict, NotFound


class PatronNotFound(NotFound):
    code = "PATRON_NOT_FOUND"


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"


class NotAnUpgrade(Conflict):
    code = "NOT_AN_UPGRADE"


class AlreadySuspended(Conflict):
    code = "PATRON_ALREADY_SUSPENDED"


class NotSuspended(Conflict):
    code = "PATRON_NOT_SUSPENDED"
