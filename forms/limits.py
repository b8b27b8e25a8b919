"""The longest answer a form field may hold: the smallest limit among the vendor fields it reaches.

Every supported vendor counts, not only the configured ones, so switching finance or ops tool
never turns a valid stored handoff into a refused request. The modal shows the limit (Slack stops
typing at `max_length`, and the hint says why) and the model enforces it again on submit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """A maximum length and the vendor field that sets it."""

    max_length: int
    reason: str

    def hint(self) -> str:
        """The sentence shown under the field."""
        return f"Up to {self.max_length} characters ({self.reason})."


ACCOUNT_NAME = Limit(100, "QuickBooks customer display name")
# Also Xero contact name 255, and the Jira summary 255 (the name plus a 30-character title).
LEGAL_ENTITY = Limit(100, "QuickBooks company name")
TAX_ID = Limit(50, "Xero tax number")
PO_NUMBER = Limit(255, "Xero invoice reference")
EMAIL = Limit(100, "QuickBooks email address")
PHONE = Limit(30, "QuickBooks phone number")
BILLING_ADDRESS = Limit(300, "fits QuickBooks' 4,000-character invoice note with the other terms")
FINANCE_ESSAY = Limit(450, "fits QuickBooks' 4,000-character invoice note with the other terms")
"""Conditions, non-standard terms, discounts, lines as sold: in full on every invoice's note."""

BY_FIELD: dict[str, Limit] = {
    "account_name": ACCOUNT_NAME,
    "invoicing_entity": LEGAL_ENTITY,
    "tax_id": TAX_ID,
    "po_number": PO_NUMBER,
    "billing_address": BILLING_ADDRESS,
    "billing_conditions": FINANCE_ESSAY,
    "non_standard_terms": FINANCE_ESSAY,
    "discounts": FINANCE_ESSAY,
    "sold_lines": FINANCE_ESSAY,
    "rate_card": FINANCE_ESSAY,
    "usage_terms": FINANCE_ESSAY,
    "buyer_email": EMAIL,
    "day_to_day_email": EMAIL,
    "billing_contact_email": EMAIL,
    "buyer_phone": PHONE,
    "day_to_day_phone": PHONE,
    "billing_contact_phone": PHONE,
}
"""Form field (block_id) -> its vendor limit; what the modal shows and the tests check."""
