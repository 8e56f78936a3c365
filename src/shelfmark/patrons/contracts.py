"""The events the patrons context publishes to other contexts."""

from shelfmark.patrons.domain.events import (
    MembershipRenewed,
    PatronCategoryChanged,
    PatronRegistered,
    PatronReinstated,
    PatronSuspended,
)

__all__ = [
    "MembershipRenewed",
    "PatronCategoryChanged",
    "PatronRegistered",
    "PatronReinstated",
    "PatronSuspended",
]
