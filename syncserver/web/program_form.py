"""The program editor's form: a rules document shown as typed inputs and read back exactly.

Every input is named by the document path it edits ("earn.min_spend_minor",
"campaigns.2.multiplier", "earn.category_multipliers.0.category"), so a pydantic error at
``("campaigns", 1, "multiplier")`` lands next to the input that caused it. Rows of a list may
be added and removed in the browser (static/program.js), so their numbers in the form can have
gaps; the document's list indexes are mapped back to the form's row numbers.

Money is typed as a decimal amount and read with :meth:`shared.money.Money.parse` (exact; more
decimals than the currency has is an error); points are whole numbers; ratios stay the strings
the engine parses exactly. No float is ever involved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from shared.money import CURRENCIES, Money, parse_ratio
from shared.rules import ProgramRules
from syncserver.hq.program import SampleBasket, minor_text
from syncserver.hq.program_schema import SECTIONS, FieldSpec, ListSpec, SectionSpec, item_value

__all__ = [
    "BASKET_FIELDS",
    "BASKET_LINES",
    "BLANK_DOCUMENT",
    "Checked",
    "FormValues",
    "basket_values",
    "check_basket",
    "check_document",
    "document_values",
    "field_id",
]

BLANK_DOCUMENT: dict[str, Any] = {
    "program_id": "",
    "version": 1,
    "currency": "EUR",
    "rounding": "down",
    "earn": {"points_per_unit": "1", "spend_unit_minor": 100},
    "campaigns": [],
    "tiers": [],
    "redemption": {"points": 100, "value_minor": 100},
    "offline": {"redemption_cap_points_per_day": 0},
}
"""Where the editor starts when no version has been published yet."""

_WHOLE = re.compile(r"^\s*-?\d+\s*$")


def field_id(name: str) -> str:
    """The HTML id of an input (or a row, list or section anchor) named ``name``."""
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", name) if name else "f-form"


class FormValues:
    """The submitted form (or a document turned into one): name -> values, in order."""

    def __init__(self, data: Mapping[str, list[str]] | None = None) -> None:
        self._data: dict[str, list[str]] = {k: list(v) for k, v in (data or {}).items()}

    @classmethod
    def from_form(cls, form: FormData) -> FormValues:
        data: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                data.setdefault(key, []).append(value)
        return cls(data)

    def get(self, name: str) -> str:
        values = self._data.get(name)
        return values[0] if values else ""

    def getall(self, name: str) -> list[str]:
        return list(self._data.get(name, ()))

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair, as a form would send them."""
        return [(name, value) for name, values in self._data.items() for value in values]

    def set(self, name: str, *values: str) -> None:
        self._data[name] = list(values)

    def update(self, other: FormValues) -> None:
        self._data.update(other._data)

    def rows(self, path: str) -> list[str]:
        """The row numbers present for list ``path``, in order ("0", "1", "5")."""
        pattern = re.compile(re.escape(path) + r"\.(\d+)\.")
        found = {int(m.group(1)) for key in self._data if (m := pattern.match(key))}
        return [str(n) for n in sorted(found)]

    def next_row(self, path: str) -> int:
        rows = self.rows(path)
        return int(rows[-1]) + 1 if rows else 0

    def blank(self, names: Iterable[str]) -> bool:
        return all(not v.strip() for name in names for v in self._data.get(name, ()))


# ---------------------------------------------------------------------------------------------
# Document -> form


def _text(spec: FieldSpec, value: Any, currency: str) -> list[str]:
    """What the inputs of ``spec`` show for a document value (tolerant: a draft may hold
    anything)."""
    if value is None:
        value = spec.default
    if value is None:
        return []
    kind = spec.kind
    if kind == "money" and isinstance(value, int) and not isinstance(value, bool):
        return [minor_text(value, currency)]
    if kind == "percent" and isinstance(value, int) and not isinstance(value, bool):
        return [percent_input(value)]
    if kind == "lines" and isinstance(value, list | tuple):
        return ["\n".join(str(v) for v in value)] if value else []
    if kind == "bool":
        return ["on"] if value is True else []
    if kind in ("names",) and isinstance(value, list | tuple):
        return [", ".join(str(v) for v in value)]
    if kind == "weekdays" and isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _put(values: FormValues, spec: FieldSpec, name: str, value: Any, currency: str) -> None:
    if spec.kind == "hours":
        pair = value if isinstance(value, list | tuple) and len(value) == 2 else ("", "")
        values.set(f"{name}.0", str(pair[0]))
        values.set(f"{name}.1", str(pair[1]))
    else:
        values.set(name, *_text(spec, value, currency))


def _section_object(document: Mapping[str, Any], section: SectionSpec) -> Mapping[str, Any]:
    if section.key is None:
        return document
    inner = document.get(section.key)
    return inner if isinstance(inner, Mapping) else {}


def _list_value(document: Mapping[str, Any], spec: ListSpec) -> Any:
    value: Any = document
    for part in spec.path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def document_values(document: Mapping[str, Any]) -> FormValues:
    """The form's inputs for a rules document (a published version or a draft)."""
    currency = str(document.get("currency") or "EUR")
    values = FormValues()
    values.set("version", str(document.get("version", "")))
    for section in SECTIONS:
        obj = _section_object(document, section)
        for f in section.fields:
            _put(values, f, section.path(f), obj.get(f.key), currency)
        for spec in section.lists:
            items = _list_value(document, spec)
            if spec.shape == "mapping":
                rows: list[Any] = list(items.items()) if isinstance(items, Mapping) else []
            else:
                rows = list(items) if isinstance(items, list | tuple) else []
            for index, item in enumerate(rows):
                prefix = f"{spec.path}.{index}"
                if spec.shape == "mapping":
                    key, ratio = item
                    values.set(f"{prefix}.{spec.fields[0].key}", str(key))
                    values.set(f"{prefix}.{spec.fields[1].key}", str(ratio))
                elif spec.shape == "names":
                    values.set(f"{prefix}.{spec.fields[0].key}", str(item))
                elif spec.shape == "bonuses" and isinstance(item, Mapping):
                    on_sku = item.get("sku") is not None
                    values.set(f"{prefix}.applies_to", "sku" if on_sku else "category")
                    values.set(f"{prefix}.name", str(item.get("sku" if on_sku else "category")))
                    values.set(f"{prefix}.points_per_unit", str(item.get("points_per_unit", "")))
                elif isinstance(item, Mapping):
                    for f in spec.fields:
                        _put(values, f, f"{prefix}.{f.key}", item_value(item, f.key), currency)
    return values


# ---------------------------------------------------------------------------------------------
# Form -> document


class _UnreadableError(ValueError):
    """An input that cannot become a document value; the message is shown next to it."""


_MISSING = object()


def _whole(text: str) -> int:
    if not _WHOLE.match(text):
        raise _UnreadableError(
            f"{text.strip()!r} is not a whole number: type digits only, such as 250"
        )
    return int(text)


def _money(text: str, currency: str) -> int:
    code = currency if currency in CURRENCIES else "EUR"
    try:
        return Money.parse(text, code).minor
    except ValueError as error:
        example = minor_text(1250, code)
        raise _UnreadableError(f"not an amount such as {example}: {error}") from None


_PERCENT = re.compile(r"^\s*(\d+)(?:\.(\d{0,2}))?\s*%?\s*$")


def percent_input(basis_points: int) -> str:
    """Basis points as a typed percentage: 1000 -> "10", 1250 -> "12.5"."""
    whole, rest = divmod(basis_points, 100)
    return f"{whole}.{rest:02d}".rstrip("0") if rest else str(whole)


def _basis_points(text: str) -> int:
    """A typed percentage ("12.5", "10 %") as basis points, exactly (at most 2 decimals)."""
    match = _PERCENT.match(text)
    if match is None:
        raise _UnreadableError(
            f"{text.strip()!r} is not a percentage such as 10 or 12.5 (at most 2 decimals)"
        )
    whole, decimals = match.group(1), match.group(2) or ""
    return int(whole) * 100 + int(decimals.ljust(2, "0"))


def _convert(spec: FieldSpec, values: FormValues, name: str, currency: str) -> Any:
    """The document value of ``spec``'s input(s), or _MISSING (let the model's default
    apply); raises _UnreadableError for input that cannot be read."""
    kind = spec.kind
    if kind == "bool":
        return values.get(name) in ("on", "true", "1", "yes")
    if kind == "weekdays":
        days = sorted({_whole(v) for v in values.getall(name) if v.strip()})
        return days or None
    if kind == "hours":
        start, end = values.get(f"{name}.0").strip(), values.get(f"{name}.1").strip()
        if not start and not end:
            return None
        if not start or not end:
            raise _UnreadableError("give both hours (from and to), or neither for the whole day")
        return [_whole(start), _whole(end)]
    text = values.get(name).strip()
    if not text:
        if spec.required:
            raise _UnreadableError(f"required: enter the {spec.label.lower().rstrip(' .…')}")
        if kind in ("optional_int", "date", "names"):
            return None
        return _MISSING
    if kind in ("int", "optional_int"):
        return _whole(text)
    if kind == "money":
        return _money(text, currency)
    if kind == "percent":
        return _basis_points(text)
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise _UnreadableError(f"{text!r} is not a date such as 2025-04-12") from None
    if kind == "names":
        names = [part.strip() for part in text.split(",")]
        return [n for n in names if n] or None
    if kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    return text  # text, ratio, currency, rounding, target, choice: the model judges them


@dataclass
class Checked:
    """The form read back: the document, and the problems found, placed by input name."""

    document: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    """Input (or row/list/section anchor) name -> messages; "" is the form as a whole."""
    labels: dict[str, str] = field(default_factory=dict)
    """Input name -> where it is, for the list of problems at the top of the form."""
    locs: dict[tuple[str | int, ...], str] = field(default_factory=dict)
    unreadable: bool = False
    """Some input could not be read at all: the document is incomplete."""
    rules: ProgramRules | None = None

    def add(self, name: str, message: str) -> None:
        messages = self.errors.setdefault(name, [])
        if message not in messages:
            messages.append(message)

    @property
    def problems(self) -> list[tuple[str, str, str]]:
        """(input name, where, message), in the order of the form."""
        order = {name: i for i, name in enumerate(self.labels)}
        names = sorted(self.errors, key=lambda name: order.get(name, -1))
        return [
            (name, self.labels.get(name, "Program"), message)
            for name in names
            for message in self.errors[name]
        ]

    def place(self, loc: Iterable[str | int], message: str) -> str:
        parts = tuple(loc)
        if not parts:
            # ProgramRules' own checks name what they are about.
            lowered = message.lower()
            for word, anchor in (
                ("campaign", "campaigns"),
                ("tier", "tiers"),
                ("reward", "rewards"),
            ):
                if lowered.startswith(word):
                    return anchor
            return ""
        if len(parts) == 1:
            # A section's own check names the field it is about ("… needs 'months'").
            for section in SECTIONS:
                if section.key == parts[0]:
                    for f in section.fields:
                        if f"'{f.key}'" in message:
                            return section.path(f)
        # A row's own check that names one of its fields ("a free_product reward has no
        # 'value_minor'") goes next to that field.
        for key in re.findall(r"'([a-z_]+)'", message):
            if (*parts, key) in self.locs:
                return self.locs[(*parts, key)]
        while parts:
            if parts in self.locs:
                return self.locs[parts]
            parts = parts[:-1]
        return ""


def _loc(path: str) -> tuple[str | int, ...]:
    return tuple(path.split("."))


def _read_field(
    checked: Checked,
    target: dict[str, Any],
    spec: FieldSpec,
    values: FormValues,
    name: str,
    currency: str,
) -> None:
    try:
        value = _convert(spec, values, name, currency)
    except _UnreadableError as bad:
        checked.add(name, str(bad))
        checked.unreadable = True
        return
    if value is not _MISSING:
        # A dotted key ("voucher.value_minor") fills a nested object, made when first needed.
        *outer, last = spec.key.split(".")
        for part in outer:
            target = target.setdefault(part, {})
        target[last] = value


def _row_names(spec: ListSpec, prefix: str) -> list[str]:
    """The inputs a person types into: a row whose inputs are all empty is not an item (a
    select always has a value, so it does not count)."""
    names = []
    for f in spec.fields:
        if f.kind in ("target", "choice"):
            continue
        if f.kind == "hours":
            names += [f"{prefix}.{f.key}.0", f"{prefix}.{f.key}.1"]
        else:
            names.append(f"{prefix}.{f.key}")
    return names


def _read_list(
    checked: Checked, spec: ListSpec, section: SectionSpec, values: FormValues, currency: str
) -> Any:
    list_loc = _loc(spec.path)
    checked.locs[list_loc] = spec.path
    checked.labels[spec.path] = f"{section.title} › {spec.title}"
    mapping: dict[str, Any] = {}
    items: list[Any] = []
    seen: dict[str, str] = {}
    for row in values.rows(spec.path):
        prefix = f"{spec.path}.{row}"
        if values.blank(_row_names(spec, prefix)):
            continue  # an added row left empty is not an item
        index = len(mapping) if spec.shape == "mapping" else len(items)
        # Named by what identifies it ("Campaign spring-bonus"), else by its position.
        first = values.get(f"{prefix}.{spec.fields[0].key}").strip()
        if spec.shape == "bonuses":
            first = values.get(f"{prefix}.name").strip()
        title = f"{spec.item} {first or index + 1}"
        item: dict[str, Any] = {}
        for f in spec.fields:
            name = f"{prefix}.{f.key}"
            checked.labels[name] = title if spec.shape == "names" else f"{title} › {f.label}"
            _read_field(checked, item, f, values, name, currency)
        checked.labels[prefix] = title
        if spec.shape == "mapping":
            key_field, value_field = spec.fields
            key = item.get(key_field.key)
            key_name, value_name = f"{prefix}.{key_field.key}", f"{prefix}.{value_field.key}"
            if key is None:
                continue
            if key in seen:
                checked.add(key_name, f"{key} is already listed above: one row per {key_field.key}")
                checked.unreadable = True
                continue
            seen[key] = key_name
            checked.locs[(*list_loc, key)] = value_name
            checked.locs[(*list_loc, key, "[key]")] = key_name
            mapping[key] = item.get(value_field.key)
        elif spec.shape == "names":
            name = f"{prefix}.{spec.fields[0].key}"
            checked.locs[(*list_loc, index)] = name
            if spec.fields[0].key in item:
                items.append(item[spec.fields[0].key])
        elif spec.shape == "bonuses":
            checked.locs[(*list_loc, index)] = prefix
            target = item.get("applies_to")
            bonus: dict[str, Any] = {}
            if target not in ("sku", "category"):
                checked.add(f"{prefix}.applies_to", "choose SKU or category")
                checked.unreadable = True
            elif "name" in item:
                bonus[target] = item["name"]
                checked.locs[(*list_loc, index, target)] = f"{prefix}.name"
            if "points_per_unit" in item:
                bonus["points_per_unit"] = item["points_per_unit"]
            checked.locs[(*list_loc, index, "points_per_unit")] = f"{prefix}.points_per_unit"
            items.append(bonus)
        else:
            checked.locs[(*list_loc, index)] = prefix
            for f in spec.fields:
                checked.locs[(*list_loc, index, *f.key.split("."))] = f"{prefix}.{f.key}"
            items.append(item)
    return mapping if spec.shape == "mapping" else items


def _read(values: FormValues) -> Checked:
    checked = Checked(document={})
    doc = checked.document
    currency = values.get("currency").strip()
    try:
        doc["version"] = _whole(values.get("version"))
    except _UnreadableError:
        checked.add("", "the form lost its version number: reload the editor")
        checked.unreadable = True
    checked.locs[("version",)] = ""
    for section in SECTIONS:
        target: dict[str, Any] = doc
        if section.key is not None:
            target = doc.setdefault(section.key, {})
            checked.locs[(section.key,)] = section.anchor
            checked.labels[section.anchor] = section.title
        for f in section.fields:
            name = section.path(f)
            checked.locs[_loc(name)] = name
            checked.labels[name] = f"{section.title} › {f.label}"
            _read_field(checked, target, f, values, name, currency)
        for spec in section.lists:
            value = _read_list(checked, spec, section, values, currency)
            if section.key is None:
                doc[spec.key] = value
            else:
                target[spec.key] = value
    return checked


def _message(error: Mapping[str, Any]) -> str:
    if error.get("type") == "missing":
        return "required"
    message = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def check_document(values: FormValues) -> Checked:
    """Read the form into a rules document and validate it with ``ProgramRules`` (as
    publishing will); every problem is placed next to the input it concerns."""
    checked = _read(values)
    try:
        # JSON, exactly as publishing reads it (strict ints, ISO dates, ratio strings).
        checked.rules = ProgramRules.model_validate_json(json.dumps(checked.document))
    except ValidationError as error:
        for problem in error.errors():
            message = _message(problem)
            name = checked.place(problem.get("loc", ()), message)
            if checked.unreadable and name in checked.errors:
                continue  # already says why it could not be read
            if checked.unreadable and problem.get("type") == "missing":
                continue
            checked.add(name, message)
    if checked.errors:
        checked.rules = None
    return checked


# ---------------------------------------------------------------------------------------------
# The sample basket

BASKET_FIELDS = (
    FieldSpec("store_id", "Store", "text", "campaigns may be limited to stores"),
    FieldSpec("local_time", "Store's local date and time", "datetime"),
    FieldSpec("tier", "Member's tier", "text", "empty = no tier"),
    FieldSpec("order_discount", "Order discount", "money", "e.g. redeemed points; empty = none"),
)

BASKET_LINES = ListSpec(
    path="basket.lines",
    title="Lines",
    item="Line",
    shape="models",
    fields=(
        FieldSpec("sku", "SKU", "text", required=True),
        FieldSpec("category", "Category", "text", required=True),
        FieldSpec("unit_price", "Unit price", "money", required=True),
        FieldSpec("quantity", "Quantity", "int"),
    ),
)


def _ratio_or_zero(text: object) -> Fraction:
    try:
        return parse_ratio(str(text))
    except ValueError:
        return Fraction(0)


def basket_values(document: Mapping[str, Any], now: datetime) -> FormValues:
    """A sample basket to start from: a line in each of the first multiplied categories and
    one plain line, at a tier of the program, now."""
    earn = document.get("earn") if isinstance(document.get("earn"), Mapping) else {}
    multipliers = (earn or {}).get("category_multipliers") or {}
    # The categories with the biggest multipliers show what the program rewards.
    ranked = sorted(multipliers.items(), key=lambda kv: -_ratio_or_zero(kv[1]))
    categories = [name for name, _ in ranked][:2]
    lines = [(f"SAMPLE-{i + 1}", c, "2.99", "2") for i, c in enumerate(categories)]
    lines.append(("SAMPLE-PLAIN", "grocery", "12.50", "1"))
    tiers = [t for t in document.get("tiers") or () if isinstance(t, Mapping)]
    values = FormValues()
    values.set("basket.store_id", "S001")
    values.set("basket.local_time", now.strftime("%Y-%m-%dT%H:%M"))
    values.set("basket.tier", str(tiers[-1].get("code", "")) if tiers else "")
    values.set("basket.order_discount", "")
    for index, (sku, category, price, quantity) in enumerate(lines):
        values.set(f"basket.lines.{index}.sku", sku)
        values.set(f"basket.lines.{index}.category", category)
        values.set(f"basket.lines.{index}.unit_price", price)
        values.set(f"basket.lines.{index}.quantity", quantity)
    return values


_LINE_FIELDS = ("sku", "category", "unit_price", "quantity")


def check_basket(values: FormValues, currency: str) -> tuple[SampleBasket | None, Checked]:
    """The sample basket from the form, or the problems with it (placed by input name)."""
    checked = Checked(document={})
    lines: list[dict[str, Any]] = []
    for row in values.rows("basket.lines"):
        prefix = f"basket.lines.{row}"
        if values.blank(f"{prefix}.{f}" for f in _LINE_FIELDS):
            continue
        number = len(lines)
        line: dict[str, Any] = {
            "sku": values.get(f"{prefix}.sku").strip(),
            "category": values.get(f"{prefix}.category").strip(),
        }
        for key, loc in (("sku", "sku"), ("category", "category")):
            checked.locs[("lines", number, loc)] = f"{prefix}.{key}"
            checked.labels[f"{prefix}.{key}"] = f"Basket line {number + 1} › {key}"
        checked.locs[("lines", number, "unit_price_minor")] = f"{prefix}.unit_price"
        checked.locs[("lines", number, "quantity")] = f"{prefix}.quantity"
        checked.locs[("lines", number)] = f"{prefix}.sku"
        price, quantity = values.get(f"{prefix}.unit_price"), values.get(f"{prefix}.quantity")
        try:
            line["unit_price_minor"] = _money(price, currency) if price.strip() else 0
        except _UnreadableError as bad:
            checked.add(f"{prefix}.unit_price", str(bad))
        try:
            line["quantity"] = _whole(quantity) if quantity.strip() else 1
        except _UnreadableError as bad:
            checked.add(f"{prefix}.quantity", str(bad))
        lines.append(line)
    body: dict[str, Any] = {"lines": lines}
    store = values.get("basket.store_id").strip()
    if store:
        body["store_id"] = store
    when = values.get("basket.local_time").strip()
    if when:
        try:
            body["local_time"] = datetime.fromisoformat(when).replace(second=0, microsecond=0)
        except ValueError:
            checked.add("basket.local_time", f"{when!r} is not a date and time")
    tier = values.get("basket.tier").strip()
    if tier:
        body["tier"] = tier
    discount = values.get("basket.order_discount").strip()
    if discount:
        try:
            body["order_discount_minor"] = _money(discount, currency)
        except _UnreadableError as bad:
            checked.add("basket.order_discount", str(bad))
    checked.locs[("store_id",)] = "basket.store_id"
    checked.locs[("local_time",)] = "basket.local_time"
    checked.locs[("tier",)] = "basket.tier"
    checked.locs[("order_discount_minor",)] = "basket.order_discount"
    checked.locs[("lines",)] = "basket.lines"
    if not lines:
        checked.add("basket.lines", "add at least one line to the sample basket")
    if checked.errors:
        return None, checked
    try:
        return SampleBasket.model_validate(body), checked
    except ValidationError as error:
        for problem in error.errors():
            message = _message(problem)
            checked.add(checked.place(problem.get("loc", ()), message) or "basket", message)
        return None, checked
