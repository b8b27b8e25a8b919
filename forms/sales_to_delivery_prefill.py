"""Prefill for the sales -> delivery form from what the CRM already knows about the deal."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import EmailStr, TypeAdapter, ValidationError

from forms import limits, sold_lines
from forms.base import FormValues
from forms.ids import KEY_CONTACT_BLOCKS, KEY_CONTACT_PARTS
from forms.ids import SalesToDeliveryField as F
from forms.money import is_currency_code, minor_units
from forms.money import places_problem as money_places_problem

DEFAULT_PAYMENT_TERMS = "30"
# Job-title words that suggest who plays which part; earlier words are stronger hints.
_SPONSOR_WORDS = (
    "chief",
    "ceo",
    "founder",
    "owner",
    "president",
    "managing director",
    "director",
    "partner",
    "head of",
    "vp",
    "general manager",
)
_BILLING_WORDS = (
    "accounts payable",
    "billing",
    "invoice",
    "accounts",
    "finance",
    "controller",
    "bookkeep",
    "accountant",
    "procurement",
    "purchasing",
    "cfo",
)
# Association labels (CRM contact roles) that name a part outright; they beat job titles.
_SPONSOR_LABELS = (
    "decision maker",
    "executive sponsor",
    "economic buyer",
    "budget holder",
    "buyer",
)
_BILLING_LABELS = ("billing", "accounts payable", "invoice", "finance", "procurement")
_DAY_TO_DAY_LABELS = ("day-to-day", "day to day", "project", "primary contact", "main contact")
_SCHEDULES = {"monthly": "monthly", "quarterly": "quarterly"}
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
Contact = dict[str, str]
"""A CRM contact cleaned for the form: name, role, email (valid or empty), phone, raw_email."""

NO_CURRENCY = "XXX"  # ISO 4217's code for "no currency involved"


def prefill_values(
    *,
    deal_name: str,
    account_name: str | None,
    amount: Decimal | None,
    currency: str | None,
    close_date: date | None,
    contacts: Sequence[Mapping[str, Any]],
    line_items: Sequence[Mapping[str, Any]] = (),
    account_manager: str | None = None,
    term_start: date | None = None,
    term_end: date | None = None,
    billing_address: str | None = None,
    today: date | None = None,
) -> FormValues:
    """Form values from the CRM deal: account, money, dates, contacts by role, lines as sold.

    `contacts` carry name, email, phone, job_title and `roles` (the CRM's association labels);
    `line_items` carry name, quantity, unit_price, amount, discount and recurring (frequency);
    `account_manager` is the Slack user id of the deal owner; `today` keeps kickoff out of the
    past.
    """
    values: FormValues = {F.PAYMENT_TERMS_DAYS: DEFAULT_PAYMENT_TERMS}
    name = _one_line(account_name or deal_name)[: limits.ACCOUNT_NAME.max_length]
    if name:
        values[F.ACCOUNT_NAME] = name
    if amount is not None and amount > 0:
        values[F.CONTRACT_VALUE] = format(amount, "f")
    code = (currency or "").strip().upper()
    if is_currency_code(code):
        values[F.CURRENCY] = code
    start = term_start or close_date
    if start is not None:
        # The term's first day is also when the first invoice goes out and when work can start,
        # unless the salesperson knows otherwise.
        values[F.TERM_START] = values[F.FIRST_INVOICE_DATE] = start.isoformat()
        # A kickoff is never in the past: a term that started at the close date starts work today.
        kickoff = max(start, today) if today else start
        values[F.EARLIEST_KICKOFF] = kickoff.isoformat()
    if term_end is not None:
        values[F.TERM_END] = term_end.isoformat()
    if account_manager:
        values[F.ACCOUNT_MANAGER] = account_manager
    address = "\n".join(_one_line(line) for line in (billing_address or "").splitlines())
    if address.strip():
        values[F.BILLING_ADDRESS] = address.strip()[: limits.BILLING_ADDRESS.max_length]
    values.update(_from_line_items(line_items, code if is_currency_code(code) else None))
    people = [p for p in (_person(c) for c in contacts) if p["name"]]
    guess = guess_roles(people)
    key_people = (guess.buyer, guess.day_to_day, guess.billing)
    for blocks, person in zip(KEY_CONTACT_BLOCKS.values(), key_people, strict=True):
        for block_id, key in zip(blocks, KEY_CONTACT_PARTS, strict=True):
            if person and person[key]:
                values[block_id] = person[key]
    lines = [_line(p) for p in guess.others]
    if lines:
        values[F.OTHER_CONTACTS] = "\n".join(lines)
    return values


class RoleGuess(NamedTuple):
    """Which CRM contact plays which part; the same person may play several."""

    buyer: Contact | None
    day_to_day: Contact | None
    billing: Contact | None
    others: list[Contact]


def guess_roles(people: list[Contact]) -> RoleGuess:
    """Each part by the CRM's contact role (label) first, then by job title.

    Buyer by senior title, billing by finance title (else the buyer), day-to-day: anyone else.
    """
    # With no telling titles the first contact is the buyer, and a one-person client plays all.
    if not people:
        return RoleGuess(None, None, None, [])
    buyer = (
        _best(people, _SPONSOR_LABELS, exclude=[], key="labels")
        or _best(people, _SPONSOR_WORDS, exclude=[])
        or people[0]
    )
    billing = (
        _best(people, _BILLING_LABELS, exclude=[], key="labels")
        or _best(people, _BILLING_WORDS, exclude=[buyer])
        or buyer
    )
    day_to_day = _best(people, _DAY_TO_DAY_LABELS, exclude=[], key="labels") or next(
        (p for p in people if p is not buyer and p is not billing), buyer
    )
    others = [p for p in people if all(p is not chosen for chosen in (buyer, billing, day_to_day))]
    return RoleGuess(buyer, day_to_day, billing, others)


def _best(
    people: list[Contact], words: Sequence[str], *, exclude: list[Contact], key: str = "role"
) -> Contact | None:
    ranked = [
        (rank, index, person)
        for index, person in enumerate(people)
        if all(person is not e for e in exclude)
        for rank, word in enumerate(words)
        if re.search(rf"\b{re.escape(word)}", person[key].lower())
    ]
    return min(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None


def _person(contact: Mapping[str, Any]) -> Contact:
    raw_email = _one_line(contact.get("email"))
    try:
        email = _EMAIL.validate_python(raw_email) if raw_email else ""
    except ValidationError:
        # A key contact's email goes into an email input: start it empty, not wrong.
        email = ""
    labels = [_one_line(label) for label in contact.get("roles") or ()]
    return {
        "name": _one_line(contact.get("name"))[:255],
        # No job title: the CRM role (label) is the best description there is.
        "role": _one_line(contact.get("job_title") or ", ".join(labels))[:255],
        "email": email if len(email) <= limits.EMAIL.max_length else "",
        "phone": _one_line(contact.get("phone"))[: limits.PHONE.max_length],
        "raw_email": raw_email,
        "labels": " / ".join(labels),
    }


def _from_line_items(items: Sequence[Mapping[str, Any]], currency: str | None) -> FormValues:
    """Deliverables (one per line item, with quantity), lines as sold, discount and schedule."""
    if not items:
        return {}
    values: FormValues = {}
    deliverables = []
    for item in items:
        name = _one_line(item.get("name")) or "Line item"
        quantity = Decimal(str(item.get("quantity") or 1))
        count = f" x {quantity.normalize():f}" if quantity != 1 else ""
        deliverables.append(f"{name}{count}"[:500])
    values[F.DELIVERABLES] = "\n".join(deliverables)
    sold = _sold_lines(items, currency)
    if sold is not None:
        text, discount = sold
        values[F.SOLD_LINES] = text
        if discount > 0:
            values[F.DISCOUNT_AMOUNT] = format(discount, "f")
    frequencies = {_one_line(item.get("recurring")).lower() or None for item in items}
    if frequencies == {None}:
        values[F.SCHEDULE] = "one_off"
    elif len(frequencies) == 1:
        schedule = _SCHEDULES.get(str(frequencies.pop()))
        if schedule:
            values[F.SCHEDULE] = schedule
    return values


def _sold_lines(
    items: Sequence[Mapping[str, Any]], currency: str | None
) -> tuple[str, Decimal] | None:
    """The rows as sold and their discounts in total; None unless every line is priced, each
    row reads back exactly (forms.sold_lines) and they fit the field: finance bills them."""
    code = currency or NO_CURRENCY  # amounts in no known currency are checked to two decimals
    limit = limits.FINANCE_ESSAY.max_length
    for full in (True, False):  # the total and frequency are for reading: dropped to fit
        rows = [_sold_row(item, code, full=full) for item in items]
        if any(row is None for row in rows):
            return None
        text = "\n".join(row for row in rows if row)
        if len(text) > limit:
            continue
        try:
            lines = sold_lines.parse(text, code)
        except ValueError:
            return None
        return text, sum((line.discount for line in lines), Decimal(0))
    return None


def _sold_row(item: Mapping[str, Any], currency: str, *, full: bool) -> str | None:
    """'12 x Analytics licence at 1,000.00 less 1,200.00 = 10,800.00, monthly', or None when
    the CRM gives the line no price, or one finer than the currency."""
    name = _one_line(item.get("name")) or "Line item"
    quantity = Decimal(str(item.get("quantity") or 1))
    discount = Decimal(str(item.get("discount") or 0))
    price = item.get("unit_price")
    if price is not None:
        unit = Decimal(str(price))
    elif item.get("amount") is not None:
        # No unit price: the line's list total is its total plus its discount.
        gross = Decimal(str(item["amount"])) + discount
        unit = gross / quantity
        if money_places_problem(unit, currency):
            name, quantity, unit = f"{name} ({quantity.normalize():f} units)", Decimal(1), gross
    else:
        return None
    if money_places_problem(unit, currency) or money_places_problem(discount, currency):
        return None  # written to the currency's decimals it would be another price
    places = minor_units(currency)
    text = f"{quantity.normalize():f} x {name} at {unit:,.{places}f}"
    if discount:
        text += f" less {discount:,.{places}f}"
    if full:
        text += f" = {quantity * unit - discount:,.{places}f}"
        if item.get("recurring"):
            text += f", {_one_line(item['recurring'])}"
    return text


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())


def _line(person: Contact) -> str:
    # Commas separate a line's parts, so commas inside a part become spaces. The email is kept
    # as the CRM had it: a bad one then gets a specific message when the form is submitted.
    parts = [person["name"], person["role"] or "Contact", person["raw_email"], person["phone"]]
    return ", ".join(_one_line(p.replace(",", " ")) for p in parts if p)
