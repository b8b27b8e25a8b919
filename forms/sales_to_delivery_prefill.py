"""Prefill for the sales -> delivery form from what the CRM already knows about the deal."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import EmailStr, TypeAdapter, ValidationError

from forms.base import FormValues
from forms.ids import KEY_CONTACT_BLOCKS, KEY_CONTACT_PARTS
from forms.ids import SalesToDeliveryField as F
from forms.money import is_currency_code

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
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
Contact = dict[str, str]
"""A CRM contact cleaned for the form: name, role, email (valid or empty), phone, raw_email."""


def prefill_values(
    *,
    deal_name: str,
    account_name: str | None,
    amount: Decimal | None,
    currency: str | None,
    close_date: date | None,
    contacts: Sequence[Mapping[str, Any]],
) -> FormValues:
    """Form values from the CRM deal: account, value, currency, term start and guessed contacts."""
    values: FormValues = {F.PAYMENT_TERMS_DAYS: DEFAULT_PAYMENT_TERMS}
    name = _one_line(account_name or deal_name)[:255]
    if name:
        values[F.ACCOUNT_NAME] = name
    if amount is not None and amount > 0:
        values[F.CONTRACT_VALUE] = format(amount, "f")
    code = (currency or "").strip().upper()
    if is_currency_code(code):
        values[F.CURRENCY] = code
    if close_date is not None:
        values[F.TERM_START] = close_date.isoformat()
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
    """Buyer by senior title, billing by finance title (else the buyer), day-to-day: anyone else."""
    # With no telling titles the first contact is the buyer, and a one-person client plays all.
    if not people:
        return RoleGuess(None, None, None, [])
    buyer = _best(people, _SPONSOR_WORDS, exclude=[]) or people[0]
    billing = _best(people, _BILLING_WORDS, exclude=[buyer]) or buyer
    day_to_day = next((p for p in people if p is not buyer and p is not billing), buyer)
    others = [p for p in people if all(p is not chosen for chosen in (buyer, billing, day_to_day))]
    return RoleGuess(buyer, day_to_day, billing, others)


def _best(people: list[Contact], words: Sequence[str], *, exclude: list[Contact]) -> Contact | None:
    ranked = [
        (rank, index, person)
        for index, person in enumerate(people)
        if all(person is not e for e in exclude)
        for rank, word in enumerate(words)
        if re.search(rf"\b{re.escape(word)}", person["role"].lower())
    ]
    return min(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None


def _person(contact: Mapping[str, Any]) -> Contact:
    raw_email = _one_line(contact.get("email"))
    try:
        email = _EMAIL.validate_python(raw_email) if raw_email else ""
    except ValidationError:
        # A key contact's email goes into an email input: start it empty, not wrong.
        email = ""
    return {
        "name": _one_line(contact.get("name"))[:255],
        "role": _one_line(contact.get("job_title"))[:255],
        "email": email,
        "phone": _one_line(contact.get("phone"))[:40],
        "raw_email": raw_email,
    }


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())


def _line(person: Contact) -> str:
    # Commas separate a line's parts, so commas inside a part become spaces. The email is kept
    # as the CRM had it: a bad one then gets a specific message when the form is submitted.
    parts = [person["name"], person["role"] or "Contact", person["raw_email"], person["phone"]]
    return ", ".join(_one_line(p.replace(",", " ")) for p in parts if p)
