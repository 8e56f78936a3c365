"""The e-mail templates: for each kind, `<kind>.subject.j2`, `<kind>.txt.j2` and
`<kind>.html.j2` in this package's `templates/` folder.

Rules: every variable a template uses must be in the context (a missing one raises
`jinja2.UndefinedError`, never renders as blank); only the HTML part is autoescaped, so the
plain text keeps the caller's characters verbatim; the subject is collapsed to one line.
Values arrive already formatted (dates, amounts): templates do no formatting of their own."""

from __future__ import annotations

from collections.abc import Mapping

import jinja2

from shelfmark.notifications.application.ports import RenderedEmail

KINDS = ("loan_receipt", "return_receipt", "due_soon", "overdue", "hold_ready")


class EmailTemplates:
    def __init__(self) -> None:
        self._environment = jinja2.Environment(
            loader=jinja2.PackageLoader("shelfmark.notifications", "templates"),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2",), default_for_string=False, default=False
            ),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # they ship with the code: no file checks on every render
        )

    def render(self, kind: str, context: Mapping[str, object]) -> RenderedEmail:
        """Raises ValueError for a kind that is not one of `KINDS`."""
        if kind not in KINDS:
            raise ValueError(f"unknown e-mail kind {kind!r}; expected one of {KINDS}")
        subject = self._render(f"{kind}.subject.j2", context)
        return RenderedEmail(
            subject=" ".join(subject.split()),
            text=self._render(f"{kind}.txt.j2", context).strip() + "\n",
            html=self._render(f"{kind}.html.j2", context).strip() + "\n",
        )

    def _render(self, name: str, context: Mapping[str, object]) -> str:
        return self._environment.get_template(name).render(context)
