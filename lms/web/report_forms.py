"""The reports' filter form: the query string of every report page and CSV, checked by
WTForms like the app's other forms (no CSRF: a GET changes nothing).

A malformed value is a field error naming the parameter; the view answers it with a 400
and that message. What needs the database (does the organization exist, may the viewer
see it, does the camp exist) is checked by the view with the services.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.widgets import TextInput

MAX_ID = 2**31 - 1
MAX_PAGE = 100000
FIRST_YEAR, LAST_YEAR = 2000, 2100  # reports reach no further (and dates stay computable)
ID = re.compile(r"[0-9]{1,10}")
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class _ParamField(Field):
    """A query parameter: surrounding spaces ignored, empty is None, else :meth:`parse`'s
    value; a ValueError's message becomes the field's error."""

    widget = TextInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if raw:
            self.data = self.parse(raw)

    def parse(self, raw: str) -> Any:
        raise NotImplementedError

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


class IdField(_ParamField):
    """A database id: 1 to 10 ASCII digits, at most 2**31 - 1."""

    def parse(self, raw: str) -> int:
        if not ID.fullmatch(raw) or int(raw) > MAX_ID:
            raise ValueError(_("%(name)s must be a number.", name=self.name))
        return int(raw)


class PageField(IdField):
    """A page number from 1 to :data:`MAX_PAGE`."""

    def parse(self, raw: str) -> int:
        page = super().parse(raw)
        if not 1 <= page <= MAX_PAGE:
            raise ValueError(_("page must be a number from 1 to %(last)d.", last=MAX_PAGE))
        return page


class DayField(_ParamField):
    """A day written YYYY-MM-DD, in the years reports cover."""

    def parse(self, raw: str) -> date:
        try:
            found = date.fromisoformat(raw) if DAY.fullmatch(raw) else None
        except ValueError:
            found = None
        if found is None or not FIRST_YEAR <= found.year <= LAST_YEAR:
            raise ValueError(_("%(name)s must be a date written YYYY-MM-DD.", name=self.name))
        return found


class MonthField(_ParamField):
    """A month written YYYY-MM (its first day), in the years reports cover."""

    def parse(self, raw: str) -> date:
        match = MONTH.fullmatch(raw)
        if (
            match is None
            or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR
            or not 1 <= int(match.group(2)) <= 12
        ):
            raise ValueError(_("The month must be written YYYY-MM."))
        return date(int(match.group(1)), int(match.group(2)), 1)


class ReportFilterForm(FlaskForm):
    """``organization``, ``camp``, ``month``, ``from``, ``to`` and ``page``; each optional."""

    class Meta:
        csrf = False

    organization = IdField()
    camp = IdField()
    month = MonthField()
    start = DayField(name="from")
    end = DayField(name="to")
    page = PageField()

    def first_error(self) -> str | None:
        """The first field's first error, in the order above (None when all are valid)."""
        for field in self:
            if field.errors:
                return str(field.errors[0])
        return None
