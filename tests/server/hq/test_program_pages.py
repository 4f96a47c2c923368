"""The Program pages through the real dashboard: edit the rules as a form, check and preview a
basket, save drafts, publish (CSRF, roles, audit), and a till pulling what was published."""

from __future__ import annotations

import json
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import httpx
from sqlalchemy import select

from shared.rules import BasketLine, EarnContext, ProgramRules, compute_earn
from syncserver.hq.rules import publish_rules
from syncserver.hq.setup import initialise
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, rules_drafts, rules_versions
from syncserver.storage.users import Role, add_user
from tests.server.helpers import PULL, bearer, demo_rules_json
from tests.server.hq.helpers import Staff, prepare_hq, serve, signed_in

# ---------------------------------------------------------------------------------------------
# A browser's view of the editor form


class _FormReader(HTMLParser):
    """The fields a browser would submit from the form with id ``program-form`` (checked
    boxes, selected options, text areas), skipping the row templates for new rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._template = 0
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "program-form":
            self._in_form = True
        if not self._in_form:
            return
        if tag == "template":
            self._template += 1
        if self._template:
            return
        if tag == "input" and "name" in a:
            kind = a.get("type", "text")
            if kind == "checkbox":
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value") or "on"))
            elif kind not in ("submit", "button"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data
        elif self._select is not None and self._options and not self._options[-1][0]:
            value, selected = self._options[-1]
            self._options[-1] = (value + data.strip(), selected)

    def handle_endtag(self, tag: str) -> None:
        if tag == "template" and self._in_form:
            self._template -= 1
        elif tag == "form":
            self._in_form = False
        elif tag == "select" and self._select is not None:
            chosen = [v for v, s in self._options if s] or [v for v, _ in self._options[:1]]
            self.fields.append((self._select, chosen[0] if chosen else ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text))
            self._textarea = None


class EditorForm:
    def __init__(self, html: str) -> None:
        reader = _FormReader()
        reader.feed(html)
        self.fields = reader.fields
        assert any(name == "csrf_token" and value for name, value in self.fields), "no CSRF"

    def get(self, name: str) -> str:
        return next(value for key, value in self.fields if key == name)

    def set(self, name: str, value: str) -> None:
        assert any(key == name for key, _ in self.fields), f"the form has no {name}"
        self.fields = [(k, value if k == name else v) for k, v in self.fields]

    def add(self, name: str, value: str) -> None:
        self.fields.append((name, value))

    def drop(self, prefix: str) -> None:
        self.fields = [(k, v) for k, v in self.fields if not k.startswith(prefix)]

    def row_of(self, list_path: str, field: str, value: str) -> str:
        """The row number whose ``field`` holds ``value`` ("3")."""
        for key, held in self.fields:
            parts = key.split(".")
            if key.startswith(list_path + ".") and parts[-1] == field and held == value:
                return parts[-2]
        raise AssertionError(f"no {list_path} row with {field} = {value}")


def _body(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields for httpx, repeated names (ticked weekdays) kept."""
    body: dict[str, list[str]] = {}
    for key, value in fields:
        body.setdefault(key, []).append(value)
    return body


def _editor(client: httpx.Client, path: str = "/program/edit") -> EditorForm:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return EditorForm(page.text)


SAMPLE = [("STRAWB", "fruit-veg", "2.99", 2), ("SOURDOUGH", "bakery", "4.20", 1)]
SAMPLE += [("COFFEE", "pantry", "12.99", 1)]
WHEN = "2025-04-12T18:30"  # a Saturday evening: weekend fresh and the late bakery run


def _set_basket(form: EditorForm, tier: str = "silver") -> None:
    form.drop("basket.")
    form.add("basket.store_id", "S001")
    form.add("basket.local_time", WHEN)
    form.add("basket.tier", tier)
    form.add("basket.order_discount", "")
    for row, (sku, category, price, quantity) in enumerate(SAMPLE):
        form.add(f"basket.lines.{row}.sku", sku)
        form.add(f"basket.lines.{row}.category", category)
        form.add(f"basket.lines.{row}.unit_price", price)
        form.add(f"basket.lines.{row}.quantity", str(quantity))


def _expected_points(rules: ProgramRules, tier: str = "silver") -> tuple[int, tuple[str, ...]]:
    lines = [
        BasketLine(
            line_no=n,
            sku=sku,
            category=category,
            quantity=quantity,
            net_minor=quantity * int(price.replace(".", "")),
        )
        for n, (sku, category, price, quantity) in enumerate(SAMPLE, start=1)
    ]
    context = EarnContext(store_id="S001", local_time=datetime.fromisoformat(WHEN), tier=tier)
    result = compute_earn(rules, lines, context)
    return result.total_points, result.summary_lines()


def _changed_rules() -> ProgramRules:
    document = json.loads(demo_rules_json())
    document["version"] = 4
    document["earn"]["points_per_unit"] = "2"
    document["earn"]["category_multipliers"]["fruit-veg"] = "3"
    return ProgramRules.model_validate(document)


def _flash(client: httpx.Client, reply: httpx.Response) -> str:
    assert reply.status_code == 303, reply.text
    cookie = reply.cookies.get("lt_flash") or ""
    return unquote(cookie).partition(":")[2]


def _audit(database: Database, action: str) -> list[Any]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
            )
        )


def _pull(client: httpx.Client, token: str, since: str) -> Any:
    reply = client.get(PULL, params={"since": since, "limit": 500}, headers=bearer(token))
    assert reply.status_code == 200, reply.text
    return reply.json()


# ---------------------------------------------------------------------------------------------


def test_edit_preview_publish_and_a_till_pulls_it(database: Database) -> None:
    hq = prepare_hq(database)
    _, till_token = hq.server.terminal()
    with serve(database) as url, signed_in(url, hq.admin) as client:
        cursor = _pull(client, till_token, "0")["cursor"]
        form = _editor(client)
        assert form.get("version") == "4"
        assert form.get("base_version") == "3"
        assert form.get("earn.points_per_unit") == "1"
        assert form.get("earn.min_spend_minor") == "3.00"  # money as a decimal amount
        fruit = form.row_of("earn.category_multipliers", "category", "fruit-veg")
        assert form.get(f"earn.category_multipliers.{fruit}.multiplier") == "2"
        form.set(f"earn.category_multipliers.{fruit}.multiplier", "3")
        form.set("earn.points_per_unit", "2")
        _set_basket(form)

        # Check & preview, as htmx sends it: the CSRF token as a header.
        token = form.get("csrf_token")
        checked = client.post(
            "/program/preview",
            data=_body([(k, v) for k, v in form.fields if k != "csrf_token"]),
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert checked.status_code == 200, checked.text
        total, receipt = _expected_points(_changed_rules())
        before, _ = _expected_points(ProgramRules.from_json(demo_rules_json()))
        assert total != before
        assert f'<span class="total">{total:,} points</span>' in checked.text
        for line in receipt:
            assert line in checked.text
        assert f"Under the published version 3 it earns {before:,} points" in checked.text
        assert "The rules are valid: they can be published as version 4." in checked.text
        assert "Category multiplier fruit-veg" in checked.text  # changes against version 3
        assert "problem" not in checked.text

        # Publish needs a note.
        refused = client.post("/program/publish", data=_body(form.fields))
        assert refused.status_code == 422
        assert "a note is required" in refused.text
        form.set("note", "Double points on fruit and veg; 2 points per euro")
        published = client.post("/program/publish", data=_body(form.fields))
        assert _flash(client, published) == (
            "Version 4 published; tills receive it on their next pull."
        )
        assert published.headers["location"] == "/program"
        landing = client.get("/program")
        assert "Version 4 published; tills receive it on their next pull." in landing.text
        assert "version 4 — published" in landing.text

        # The till's next pull brings version 4, exactly as previewed.
        pulled = _pull(client, till_token, cursor)
    assert [rules["version"] for rules in pulled["rules"]] == [4]
    assert ProgramRules.model_validate(pulled["rules"][0]) == _changed_rules()
    with database.read() as conn:
        row = conn.execute(select(rules_versions).where(rules_versions.c.version == 4)).one()
    assert (row.published_by, row.note) == (
        "ada",
        "Double points on fruit and veg; 2 points per euro",
    )
    (audit,) = _audit(database, "program.publish")[-1:]
    assert (audit.actor, audit.target_kind, audit.target_id) == ("ada", "rules_version", "4")
    assert json.loads(audit.detail)["via"] == "web"


def test_problems_are_shown_next_to_their_fields(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url, signed_in(url, hq.admin) as client:
        form = _editor(client)
        late = form.row_of("campaigns", "id", "late-bakery")
        form.set(f"campaigns.{late}.multiplier", "0.5")
        form.set("earn.min_spend_minor", "3.005")
        form.set("redemption.max_basket_percent", "150")
        form.set("note", "Will not get through")
        reply = client.post("/program/preview", data=_body(form.fields))
        assert reply.status_code == 200
        html = reply.text
        assert "3 problems to fix" in html
        for field_id, message in (
            (f"f-campaigns-{late}-multiplier", "a campaign multiplier must be at least 1"),
            ("f-earn-min_spend_minor", "&#39;3.005&#39; has more than 2 decimals for EUR"),
            ("f-redemption-max_basket_percent", "Input should be less than or equal to 100"),
        ):
            # The input is marked invalid and its message follows it, inside its field.
            start = html.index(f'id="{field_id}"')
            field = html[html.rindex('<div class="field', 0, start) : html.index("</div>", start)]
            assert 'aria-invalid="true"' in field
            assert f'id="e-{field_id}"' in field
            assert message in field
            # The summary at the top links to it.
            assert f'href="#{field_id}"' in html
        assert '<span class="total">' not in html  # no preview of invalid rules

        published = client.post("/program/publish", data=_body(form.fields))
        assert published.status_code == 422
        assert "Nothing was published: fix the marked fields" in published.text
    with database.read() as conn:
        assert conn.execute(select(rules_versions.c.version)).scalars().all() == [3]


def test_drafts_are_saved_reloaded_and_published(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url, signed_in(url, hq.admin) as client:
        form = _editor(client)
        form.set("earn.per_order_points", "15")
        form.set("campaigns." + form.row_of("campaigns", "id", "late-bakery") + ".name", "")
        form.set("note", "Bigger visit bonus")
        saved = client.post("/program/drafts", data=_body(form.fields))
        assert saved.status_code == 422  # a required name is missing: not saved
        assert "The draft was not saved" in saved.text
        form.set("campaigns." + form.row_of("campaigns", "id", "late-bakery") + ".name", "Late")
        form.set("redemption.max_basket_percent", "150")  # saved anyway, to fix later
        saved = client.post("/program/drafts", data=_body(form.fields))
        flash = _flash(client, saved)
        draft_id = int(saved.headers["location"].rsplit("=", 1)[1])
        assert flash == f"Draft #{draft_id} saved. It has 1 problem to fix before publishing."

        # Reloaded as it was saved, listed on the Program page, saved over in place.
        again = _editor(client, f"/program/edit?draft={draft_id}")
        assert again.get("earn.per_order_points") == "15"
        assert again.get("redemption.max_basket_percent") == "150"
        assert again.get("note") == "Bigger visit bonus"
        assert again.get("draft_id") == str(draft_id)
        listing = client.get("/program").text
        assert f"#{draft_id}" in listing
        assert f'href="/program/edit?draft={draft_id}"' in listing
        again.set("redemption.max_basket_percent", "50")
        resaved = client.post("/program/drafts", data=_body(again.fields))
        assert resaved.headers["location"] == f"/program/edit?draft={draft_id}"
        assert _flash(client, resaved) == f"Draft #{draft_id} saved."

        # Publishing the draft uses it up.
        published = client.post(
            "/program/publish", data=_body(_editor(client, resaved.headers["location"]).fields)
        )
        assert "Version 4 published" in _flash(client, published)
        assert client.get(f"/program/edit?draft={draft_id}").status_code == 404

        # Another draft, deleted.
        other = client.post("/program/drafts", data=_body(_editor(client).fields))
        other_id = int(other.headers["location"].rsplit("=", 1)[1])
        deleted = client.post(
            f"/program/drafts/{other_id}/delete", data={"csrf_token": again.get("csrf_token")}
        )
        assert _flash(client, deleted) == f"Draft #{other_id} deleted."
    with database.read() as conn:
        assert conn.execute(select(rules_drafts.c.id)).scalars().all() == []
        version = conn.execute(select(rules_versions).where(rules_versions.c.version == 4)).one()
    rules = ProgramRules.from_json(version.document)
    assert rules.earn.per_order_points == 15
    assert version.note == "Bigger visit bonus"
    saves = _audit(database, "program.draft_save")
    assert [(a.actor, a.target_id) for a in saves] == [
        ("ada", str(draft_id)),
        ("ada", str(draft_id)),
        ("ada", str(other_id)),
    ]
    assert json.loads(_audit(database, "program.publish")[-1].detail)["draft_id"] == draft_id
    assert [a.target_id for a in _audit(database, "program.draft_delete")] == [str(other_id)]


def test_only_admins_edit_and_publish(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url:
        with signed_in(url, hq.admin) as admin:
            fields = _editor(admin).fields
        for staff in (hq.manager, hq.viewer):
            with signed_in(url, staff) as client:
                assert client.get("/program").status_code == 200
                assert client.get("/program/versions/3").status_code == 200
                assert "Edit rules" not in client.get("/program").text
                page = client.get("/program/edit")
                assert page.status_code == 403
                assert "Only admins can change the program rules" in page.text
                assert f"you are signed in as a {staff.role}" in page.text
                token = _csrf(client)
                mine = [(k, token if k == "csrf_token" else v) for k, v in fields]
                mine = [(k, "A note" if k == "note" else v) for k, v in mine]
                for action in ("/program/publish", "/program/drafts", "/program/drafts/1/delete"):
                    refused = client.post(action, data=_body(mine))
                    assert refused.status_code == 403, action
                    assert "Only admins can change the program rules" in refused.text
                # Checking rules changes nothing: anyone signed in may preview.
                assert client.post("/program/preview", data=_body(mine)).status_code == 200
        # Without the CSRF token even an admin is refused.
        with signed_in(url, hq.admin) as admin:
            forged = [(k, "forged" if k == "csrf_token" else v) for k, v in fields]
            assert admin.post("/program/publish", data=_body(forged)).status_code == 403
    with database.read() as conn:
        assert conn.execute(select(rules_versions.c.version)).scalars().all() == [3]
        assert conn.execute(select(rules_drafts.c.id)).scalars().all() == []


def _csrf(client: httpx.Client) -> str:
    page = client.get("/program")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def test_history_and_the_diff_of_each_version(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url, signed_in(url, hq.admin) as client:
        form = _editor(client)
        fruit = form.row_of("earn.category_multipliers", "category", "fruit-veg")
        form.set(f"earn.category_multipliers.{fruit}.multiplier", "3")
        form.set("note", "Fruit x3")
        assert "Version 4" in _flash(
            client, client.post("/program/publish", data=_body(form.fields))
        )
        form = _editor(client)
        form.drop("tiers." + form.row_of("tiers", "code", "gold") + ".")
        form.set("note", "No more gold")
        assert "Version 5" in _flash(
            client, client.post("/program/publish", data=_body(form.fields))
        )

        index = client.get("/program").text
        rows = [index.index(f'href="/program/versions/{v}"') for v in (5, 4, 3)]
        assert rows == sorted(rows)  # newest first
        assert "No more gold" in index
        assert "Fruit x3" in index
        five = client.get("/program/versions/5").text
        assert "Changes from version 4" in five
        assert "Tier gold" in five
        assert "removed" in five
        four = client.get("/program/versions/4").text
        assert "Changes from version 3" in four
        diff = four[
            four.index('<table class="diff">') : four.index(
                "</table>", four.index('<table class="diff">')
            )
        ]
        assert "Category multiplier fruit-veg" in diff
        assert "<td>×2</td>" in diff
        assert "<td>×3</td>" in diff
        assert diff.count("<tr") == 2  # the header and the one change
        assert "First version" in client.get("/program/versions/3").text
        missing = client.get("/program/versions/99")
        assert missing.status_code == 404
        assert "version 99 of the program rules was never published" in missing.text
        # A page of history, then the next.
        assert "Next page" not in index


def test_a_stale_editor_cannot_publish_over_a_newer_version(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with database.write() as conn:
        add_user(conn, "alan", Role.ADMIN, utc_now(), password="alan-correct-horse")
    alan = Staff("alan", "alan-correct-horse", "", Role.ADMIN)
    with serve(database) as url, signed_in(url, hq.admin) as ada, signed_in(url, alan) as other:
        first, second = _editor(ada), _editor(other)
        first.set("earn.per_order_points", "7")
        first.set("note", "Ada's change")
        second.set("earn.per_order_points", "9")
        second.set("note", "Alan's change")
        assert "Version 4" in _flash(ada, ada.post("/program/publish", data=_body(first.fields)))
        late = other.post("/program/publish", data=_body(second.fields))
        assert late.status_code == 409
        assert "version 4 is already published by ada" in late.text
        assert "publish your change as version 5" in late.text
        assert EditorForm(late.text).get("earn.per_order_points") == "9"  # nothing lost
        # Saved as a draft and reopened, it is now based on a stale version and says so.
        saved = other.post("/program/drafts", data=_body(EditorForm(late.text).fields))
        reopened = other.get(saved.headers["location"]).text
        assert "but version 4 is now the latest" in reopened
        assert EditorForm(reopened).get("version") == "5"
        # Reviewed against version 4, it can be published on top of it: HQ numbers it 5.
        published = other.post("/program/publish", data=_body(EditorForm(reopened).fields))
        assert "Version 5 published" in _flash(other, published)


def test_the_first_version_from_an_empty_server(database: Database) -> None:
    initialise(database)
    with database.write() as conn:
        add_user(conn, "ada", Role.ADMIN, utc_now(), password="ada-correct-horse")
    ada = Staff("ada", "ada-correct-horse", "", Role.ADMIN)
    with serve(database) as url, signed_in(url, ada) as client:
        assert "No program rules are published yet" in client.get("/program").text
        form = _editor(client)
        assert form.get("version") == "1"
        form.set("program_id", "corner-shop")
        form.set("note", "Opening program")
        assert "Version 1 published" in _flash(
            client, client.post("/program/publish", data=_body(form.fields))
        )
    with database.read() as conn:
        (document,) = conn.execute(select(rules_versions.c.document)).scalars().all()
    rules = ProgramRules.from_json(document)
    assert (rules.program_id, rules.version, rules.earn.spend_unit_minor) == ("corner-shop", 1, 100)


def test_a_big_program_fits_in_the_form(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    document = json.loads(demo_rules_json())
    document["version"] = 4
    # One category each: what this is about is the size of the form. (80 campaigns on one
    # line is test_program_api.py's many_campaigns test.)
    document["campaigns"] = [
        {"id": f"week-{n}", "name": f"Week {n}", "multiplier": "2", "categories": [f"aisle-{n}"]}
        for n in range(80)
    ]
    publish_rules(database, json.dumps(document))
    with serve(database) as url, signed_in(url, hq.admin) as client:
        form = _editor(client)
        assert len(form.fields) > 1000  # beyond Starlette's default form limit
        reply = client.post("/program/preview", data=_body(form.fields))
        assert reply.status_code == 200
        assert "The rules are valid: they can be published as version 5." in reply.text


def test_tier_qualification_expiry_and_perks_publish_through_the_form(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url, signed_in(url, hq.admin) as client:
        form = _editor(client)
        # Published before these fields existed: the form shows the model's defaults.
        assert form.get("tier_qualification.metric") == "points"
        assert form.get("tier_qualification.period") == "rolling"
        assert form.get("tier_qualification.window_months") == "12"
        assert form.get("expiry.mode") == "never"
        gold = form.row_of("tiers", "code", "gold")
        assert form.get(f"tiers.{gold}.perks") == ""
        form.set("tier_qualification.grace_months", "3")
        form.add("tier_qualification.one_tier_down", "on")
        form.set("expiry.mode", "months_after_earn")  # … but no months yet
        form.set("tier_qualification.window_months", "0")
        form.set(f"tiers.{gold}.perks", "Free delivery\r\nBirthday double points\r\n")
        form.set("note", "Tiers reviewed yearly with grace; points last 12 months")
        refused = client.post("/program/publish", data=_body(form.fields))
        assert refused.status_code == 422
        html = refused.text
        assert "2 problems to fix" in html
        for field_id, message in (
            ("f-expiry-months", "expiry mode &#39;months_after_earn&#39; needs &#39;months&#39;"),
            ("f-tier_qualification-window_months", "greater than or equal to 1"),
        ):
            start = html.index(f'id="{field_id}"')
            field = html[html.rindex('<div class="field', 0, start) : html.index("</div>", start)]
            assert 'aria-invalid="true"' in field
            assert message in field
            assert f'href="#{field_id}"' in html
        form.set("tier_qualification.window_months", "12")
        form.set("expiry.months", "12")
        published = client.post("/program/publish", data=_body(form.fields))
        assert "Version 4" in _flash(client, published)
        summary = client.get("/program").text
        version = client.get("/program/versions/4").text
    with database.read() as conn:
        document = conn.execute(
            select(rules_versions.c.document).where(rules_versions.c.version == 4)
        ).scalar_one()
    rules = ProgramRules.from_json(document)
    assert rules.tier_qualification.grace_months == 3
    assert rules.tier_qualification.one_tier_down is True
    assert rules.tier_qualification.window_months == 12
    assert (rules.expiry.mode, rules.expiry.months) == ("months_after_earn", 12)
    tier = rules.tier("gold")
    assert tier is not None
    assert tier.perks == ("Free delivery", "Birthday double points")
    assert (
        "Tiers: by points earned in the last 12 months; review 12 months after a tier is "
        "reached, with 3 months&#39; grace; at most one tier down per review." in summary
    )
    assert "Points expire 12 months after they are earned." in summary
    assert "Free delivery, Birthday double points" in summary
    diff = version[version.index('<table class="diff">') :]
    diff = diff[: diff.index("</table>")]
    assert "<td>Grace (months)</td>" in diff
    assert "<td>months after they are earned</td>" in diff
    assert "Tier gold · Perks" in diff
    assert "<td>Free delivery; Birthday double points</td>" in diff


def test_rewards_are_added_checked_published_and_pulled(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    _, till_token = hq.server.terminal()
    with serve(database) as url, signed_in(url, hq.admin) as client:
        cursor = _pull(client, till_token, "0")["cursor"]
        page = client.get("/program/edit").text
        # The row a browser clones for "+ Add reward" has every reward input.
        template = page[page.index('data-list="rewards"') :]
        template = template[template.index("<template>") : template.index("</template>")]
        for key in ("id", "name", "points", "kind", "value_minor", "percent_bp", "sku"):
            assert f'name="rewards.__i__.{key}"' in template
        assert "No rewards: points are redeemed as a discount only." in client.get("/program").text

        form = EditorForm(page)
        rows = {
            "0": {"id": "five-off", "name": "€5 off", "points": "500", "kind": "voucher_amount",
                  "value_minor": "5.00", "min_spend_minor": "20.00", "delivery": "voucher",
                  "valid_days": "30"},
            "3": {"id": "bakery-10", "name": "10% off bakery", "points": "300",
                  "kind": "voucher_percent", "percent_bp": "10", "value_minor": "",
                  "categories": "bakery", "tiers": "gold", "delivery": "apply_now",
                  "valid_days": "30"},
        }  # fmt: skip
        for row, fields in rows.items():
            for key, value in fields.items():
                form.add(f"rewards.{row}.{key}", value)
        form.add("rewards.3.multiplier", "2")  # a percentage has no multiplier
        _set_basket(form)
        form.set("note", "A rewards catalog: €5 off and 10% off bakery for Gold")
        reply = client.post("/program/preview", data=_body(form.fields))
        assert reply.status_code == 200
        html = reply.text
        assert "1 problem to fix" in html
        start = html.index('id="f-rewards-3-multiplier"')
        field = html[html.rindex('<div class="field', 0, start) : html.index("</div>", start)]
        assert 'aria-invalid="true"' in field
        assert "a voucher_percent reward has no &#39;multiplier&#39;; remove it" in field

        form.set("rewards.3.multiplier", "")
        checked = client.post("/program/preview", data=_body(form.fields))
        assert "The rules are valid: they can be published as version 4." in checked.text
        assert '<span class="total">' in checked.text  # the sample basket still previews
        assert "Reward five-off" in checked.text  # changes against version 3
        published = client.post("/program/publish", data=_body(form.fields))
        assert "Version 4" in _flash(client, published)
        summary = client.get("/program").text
        version = client.get("/program/versions/4").text
        pulled = _pull(client, till_token, cursor)
    assert (
        "Rewards: 10% off bakery for 300 pts, taken off the sale; €5.00 off with at least "
        "€20.00 spent for 500 pts, valid 30 days." in summary
    )
    diff = version[version.index('<table class="diff">') :]
    diff = diff[: diff.index("</table>")]
    assert "Reward bakery-10" in diff
    assert "Reward five-off" in diff
    (rules,) = [ProgramRules.model_validate(r) for r in pulled["rules"]]
    assert [(r.id, r.kind, r.points) for r in rules.rewards] == [
        ("five-off", "voucher_amount", 500),
        ("bakery-10", "voucher_percent", 300),
    ]
    assert rules.rewards[0].value_minor == 500
    assert rules.rewards[0].min_spend_minor == 2000
    assert (rules.rewards[1].percent_bp, rules.rewards[1].tiers) == (1000, ("gold",))
    assert rules.rewards[1].categories == ("bakery",)
