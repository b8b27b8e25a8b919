"""Fixtures for the ops-tool adapter tests: a complete handoff brief, a sleep that only records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from integrations.ports import (
    BillingTerms,
    BriefItem,
    BriefSection,
    Contact,
    HandoffBrief,
    OAuthToken,
    ThreadComment,
)
from integrations.registry import VendorContext


class NoTokens:
    """A TokenStore for adapters that authenticate with static tokens and never call it."""

    def load(self, provider: str, account: str) -> OAuthToken | None:
        return None

    def save(self, provider: str, account: str, token: OAuthToken) -> None:
        raise AssertionError("static-token adapters must not store OAuth tokens")

    @contextmanager
    def locked(self, provider: str, account: str) -> Iterator[None]:
        yield


class Sleeps(list[float]):
    """Records every delay an adapter asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def vendor_context(env: Mapping[str, str], sleeps: Sleeps) -> VendorContext:
    """A VendorContext whose sleep records instead of waiting."""
    return VendorContext(env=dict(env), token_store=NoTokens(), sleep=sleeps)


@pytest.fixture
def brief() -> HandoffBrief:
    """A realistic closed deal: every section, 3 contacts, 3 deliverables, quarterly billing."""
    return HandoffBrief(
        handoff_id=42,
        kind="new_client",
        marker="handoff-42",
        title="Smith & Rowe Logistics: warehouse analytics rollout",
        account_name="Smith & Rowe Logistics Ltd",
        summary="Three-site analytics rollout; first dashboards wanted before the Q2 peak.",
        sections=(
            BriefSection(
                title="Deal context",
                items=(
                    BriefItem(label="Why they bought", value="Stock-outs cost them <5% margin>"),
                    BriefItem(label="Competitor", value="Lost to nobody; replaced spreadsheets"),
                    BriefItem(label="Decision maker", value="COO, signed after the pilot"),
                ),
            ),
            BriefSection(
                title="Scope",
                items=(
                    BriefItem(label="Sites", value="Leeds, Bristol and Glasgow warehouses"),
                    BriefItem(label="Out of scope", value="Transport management\nHR rostering"),
                ),
            ),
            BriefSection(
                title="Risks",
                items=(BriefItem(label="IT capacity", value="Their IT team is two people"),),
            ),
        ),
        contacts=(
            Contact(name="Priya Natarajan", role="COO, sponsor", email="priya@smithrowe.example"),
            Contact(
                name="Tom O'Neill",
                role="IT lead",
                email="tom.oneill@smithrowe.example",
                phone="+44 113 496 0001",
            ),
            Contact(
                name="Agnieszka Wójcik",
                role="Accounts payable, billing",
                email="ap@smithrowe.example",
                phone="+44 113 496 0002",
            ),
        ),
        deliverables=(
            "Data connectors for the three WMS instances",
            "Stock-out dashboard",
            "Admin training (2 sessions)",
        ),
        kickoff_date=date(2026, 2, 9),
        billing=BillingTerms(
            contract_value=Decimal("48000.00"),
            currency="GBP",
            schedule="quarterly",
            first_invoice_date=date(2026, 2, 1),
            payment_terms_days=30,
            po_required=True,
            po_number="PO-77815",
            invoicing_entity="Smith & Rowe Holdings Ltd",
            tax_id="GB123456789",
            conditions="Invoices must quote the PO number",
            term_start=date(2026, 2, 1),
            term_end=date(2027, 1, 31),
        ),
        slack_thread_url="https://acme.slack.com/archives/C0HANDOFF/p1767225600000100",
        crm_deal_url="https://app.hubspot.com/contacts/123/record/0-3/98765",
    )


@pytest.fixture
def thread_comment() -> ThreadComment:
    """A question from the handoff thread, posted at 14:05 UTC."""
    return ThreadComment(
        marker="1767225600.000200",
        author="Dana Ops",
        posted_at=datetime(2026, 1, 1, 14, 5, tzinfo=UTC),
        text="Does the Glasgow site use the same WMS version?\n\nAsking before kickoff.",
    )


@pytest.fixture
def brief_facts(brief: HandoffBrief) -> list[str]:
    """Every text a receiving tool must show for `brief` (values as a reader sees them)."""
    facts = [brief.summary, brief.account_name]
    for section in brief.sections:
        facts.append(section.title)
        facts += [text for item in section.items for text in (item.label, item.value)]
    for contact in brief.contacts:
        facts += [contact.name, contact.role, contact.email or "", contact.phone or ""]
    facts += list(brief.deliverables)
    facts += [
        "2026-02-09",  # kickoff
        "GBP 48,000.00",
        "Quarterly, 4 invoices of GBP 12,000.00",
        "First invoice: 2026-02-01",
        "Payment terms: 30 days",
        "PO: required (PO-77815)",
        "Term: 2026-02-01 to 2027-01-31",
        "Smith & Rowe Holdings Ltd",
        "GB123456789",
        "Invoices must quote the PO number",
        "Billing contact: Agnieszka Wójcik",
        brief.slack_thread_url or "",
        brief.crm_deal_url or "",
        "(ref: handoff-42)",
    ]
    return [fact for fact in facts if fact]
