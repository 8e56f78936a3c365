"""Catalog errors."""

from shelfmark.seedwork.domain import Conflict, NotFound


class BookNotFound(NotFound):
    code = "BOOK_NOT_FOUND"


class IsbnTaken(Conflict):
    code = "ISBN_TAKEN"


class BarcodeTaken(Conflict):
    code = "BARCODE_TAKEN"
