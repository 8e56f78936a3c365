"""The e-mail templates: every kind renders from exactly its context, strictly and safely."""

from __future__ import annotations

import jinja2
import pytest

from shelfmark.notifications.infrastructure.templates import KINDS, EmailTemplates

COMMON = {"library_name": "Riverside Library", "patron_name": "Ada"}
CONTEXTS: dict[str, dict[str, object]] = {
    "loan_receipt": {"title": "Dune", "author": "Frank Herbert", "due": "Friday 12 December 2026"},
    "return_receipt": {
        "title": "Dune",
        "returned": "Monday 15 December 2026",
        "fine": "1.50",
        "has_fine": True,
    },
    "due_soon": {"title": "Dune", "due": "Friday 12 December 2026"},
    "overdue": {"title": "Dune", "due": "Friday 12 December 2026"},
    "hold_ready": {"title": "Dune", "pickup_deadline": "Saturday 20 December 2026"},
}


def context(kind: str, **changes: object) -> dict[str, object]:
    return COMMON | CONTEXTS[kind] | changes


@pytest.fixture(scope="module")
def templates() -> EmailTemplates:
    return EmailTemplates()


def test_every_kind_has_a_context() -> None:
    assert set(CONTEXTS) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_all_its_context(templates: EmailTemplates, kind: str) -> None:
    rendered = templates.render(kind, context(kind))
    assert rendered.subject and "\n" not in rendered.subject and "Dune" in rendered.subject
    for body in (rendered.text, rendered.html):
        assert "Ada" in body and "Riverside Library" in body
        for name, value in CONTEXTS[kind].items():
            if isinstance(value, str):
                assert value in body, f"{kind} does not show {name}"
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    assert "<" not in rendered.text and "http" not in rendered.html and "<img" not in rendered.html


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("missing", ["patron_name", "title"])
def test_a_missing_variable_raises(templates: EmailTemplates, kind: str, missing: str) -> None:
    incomplete = context(kind)
    del incomplete[missing]
    with pytest.raises(jinja2.UndefinedError, match=missing):
        templates.render(kind, incomplete)


def test_html_escapes_markup_and_text_keeps_it_verbatim(templates: EmailTemplates) -> None:
    title = '<script>alert("x")</script> & Co'
    rendered = templates.render("loan_receipt", context("loan_receipt", title=title))
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in rendered.html
    assert title in rendered.text
    assert title in rendered.subject


def test_the_fine_appears_in_the_return_receipt_only_when_there_is_one(
    templates: EmailTemplates,
) -> None:
    fined = templates.render("return_receipt", context("return_receipt", fine="1.50"))
    free = templates.render(
        "return_receipt", context("return_receipt", fine="0.00", has_fine=False)
    )
    assert "1.50" in fined.text and "1.50" in fined.html
    for body in (free.text, free.html):
        assert "0.00" not in body and "fine" not in body.lower()


def test_the_subject_is_one_line(templates: EmailTemplates) -> None:
    rendered = templates.render("overdue", context("overdue", title="Dune\n  Messiah"))
    assert rendered.subject == "Overdue: Dune Messiah was due back on Friday 12 December 2026"


def test_an_unknown_kind_is_a_value_error(templates: EmailTemplates) -> None:
    with pytest.raises(ValueError, match="unknown"):
        templates.render("welcome", COMMON)
