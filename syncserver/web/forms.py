"""One check for every dashboard form: its fields hold printable text.

A NUL typed (or sent) into any field would reach PostgreSQL, which cannot store one, and other
control characters have no business in a name, reason or note. Rather than each page checking
each field, ``install_dashboard`` adds :func:`plain_form` to every dashboard route, so a form
with such a character is a 422 naming the field before the page's own code runs. Tabs and line
breaks are allowed (reasons and notes come from text areas).
"""

from __future__ import annotations

from fastapi import Request

from syncserver.api.limits import MAX_FORM_FIELDS
from syncserver.api.params import check_multiline_text
from syncserver.errors import MalformedError

__all__ = ["FORM_TYPES", "plain_form"]

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def plain_form(request: Request) -> None:
    """Refuse (422) a dashboard form whose field names or values hold a control character.

    Reads the form with the program editor's field limit (the largest form there is); the
    page's own dependencies and FastAPI's ``Form`` parameters then reuse the parsed form."""
    content_type = request.headers.get("content-type", "")
    if request.method != "POST" or not content_type.lower().startswith(FORM_TYPES):
        return
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    for name, value in form.multi_items():
        text = value if isinstance(value, str) else ""
        for part, where in ((name, "a field name"), (text, f"the field {name!r}")):
            try:
                check_multiline_text(part)
            except ValueError as error:
                raise MalformedError(f"{where} {error}, and send the form again") from None
