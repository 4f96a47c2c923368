"""Mistakes in the dashboard's templates that render fine but break in a browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = sorted((Path(__file__).parents[3] / "syncserver" / "web" / "templates").rglob("*.html"))


def _name(path: Path) -> str:
    return str(path).split("templates/", 1)[1]


@pytest.mark.parametrize("template", TEMPLATES, ids=_name)
def test_macros_are_imported_with_the_pages_context(template: Path) -> None:
    # Without "with context" an imported macro cannot see csrf_token: m.csrf() renders an
    # empty value and every form posted from the page is refused (403).
    for line in re.findall(
        r"{%-?\s*(?:import|from)\s+\"_macros\.html\"[^%]*%}", template.read_text()
    ):
        assert "with context" in line, f"{_name(template)}: {line}"


@pytest.mark.parametrize("template", TEMPLATES, ids=_name)
def test_no_inline_script_that_the_content_security_policy_would_block(template: Path) -> None:
    text = template.read_text()
    # Data for scripts is fine (<script type="application/json">); code must be a file.
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag or 'type="application/json"' in tag, f"{_name(template)}: {tag}"
    assert not re.search(r"\son[a-z]+\s*=", text), f"{_name(template)} has an inline handler"
    assert "javascript:" not in text, f"{_name(template)} has a javascript: URL"
