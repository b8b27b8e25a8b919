"""The money-leak comparison: the CRM deal now, the agreed billing and what the tool holds.

Pure: given the deal, the agreed `BillingTerms` and the documents read back, it lists each
disagreement with both values as text. What SHOULD be billed is `integrations.billing.plan`,
the same plan the adapters created the documents from; what IS billed is what each document
totals to (its lines less its discounts; a template times its occurrences).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from integrations.billing import PlannedInvoice, Recurring, money_text, plan
from integrations.finance_read import HeldDocument
from integrations.ports import ESTIMATED_MODELS, BillingTerms, DealSnapshot, Record


class Difference(Record):
    """One disagreement, as finance reads it: what differs, what was expected, what was found."""

    what: str
    expected: str
    found: str


def compare(
    billing: BillingTerms,
    held: tuple[HeldDocument, ...],
    *,
    deal: DealSnapshot | None,
    handed_close_date: date | None,
    account_name: str,
    tool: str,
    tolerance: Decimal = Decimal(0),
) -> tuple[Difference, ...]:
    """Every way the CRM deal, the agreed billing and the finance tool's documents disagree.

    Amounts differing by at most `tolerance` agree. Estimated billing (time and materials,
    usage) is set up at an estimate finance adjusts, so its amounts are not compared.
    Raises VendorRejected when the agreed terms cannot be planned (no record could exist).
    """
    planned = plan(billing, "", tool)
    differences: list[Difference] = []
    differences += _documents(planned, held, billing.currency, tool)
    active = [doc for doc in held if doc.state == "active"]
    found_currency = _currency(active)
    currency = found_currency or billing.currency
    found = _found_text(active, currency)
    if billing.billing_model not in ESTIMATED_MODELS:
        billed = sum((doc.total() for doc in active), Decimal(0))
        crm = deal.amount if deal is not None else None
        if deal is not None and crm is not None and abs(crm - billed) > tolerance:
            differences.append(
                Difference(
                    what=f"Amount: CRM deal vs {tool}",
                    expected=money_text(deal.currency or currency, crm),
                    found=found,
                )
            )
        if abs(billing.contract_value - billed) > tolerance:
            differences.append(
                Difference(
                    what=f"Amount: handoff vs {tool}",
                    expected=money_text(billing.currency, billing.contract_value),
                    found=found,
                )
            )
        differences += _schedule(planned, held, billing.currency, tolerance, tool)
    if found_currency is not None and found_currency != billing.currency:
        differences.append(
            Difference(what=f"Currency: handoff vs {tool}", expected=billing.currency, found=found)
        )
    if deal is not None and deal.currency and deal.currency != (found_currency or currency):
        where = tool if found_currency else "handoff"
        differences.append(
            Difference(
                what=f"Currency: CRM deal vs {where}", expected=deal.currency, found=currency
            )
        )
    differences += _customer(active, account_name, tool)
    if deal is not None and handed_close_date and deal.close_date != handed_close_date:
        differences.append(
            Difference(
                what="CRM close date: at the handoff vs now",
                expected=handed_close_date.isoformat(),
                found=deal.close_date.isoformat() if deal.close_date else "none",
            )
        )
    return tuple(differences)


def _documents(
    planned: list[Recurring | PlannedInvoice],
    held: tuple[HeldDocument, ...],
    currency: str,
    tool: str,
) -> list[Difference]:
    """A document the record names that the tool no longer has, or that no longer bills."""
    found = []
    for number, doc in enumerate(held):
        if doc.state == "active":
            continue
        expected = _plan_text(planned[number], currency) if number < len(planned) else "-"
        template = "repeating invoice" if tool == "Xero" else "recurring template"
        kind = template if doc.kind == "recurring" else "invoice"
        state = "not found (deleted?)" if doc.state == "missing" else "inactive: it no longer bills"
        found.append(
            Difference(what=f"{tool} {kind} {doc.document_id}", expected=expected, found=state)
        )
    return found


def _schedule(
    planned: list[Recurring | PlannedInvoice],
    held: tuple[HeldDocument, ...],
    currency: str,
    tolerance: Decimal,
    tool: str,
) -> list[Difference]:
    """The documents' shape against the plan: how often, how many, from when, how much each."""
    pairs = list(zip(planned, held, strict=False))
    same = len(planned) == len(held) and all(
        doc.state != "active" or _matches(want, doc, tolerance) for want, doc in pairs
    )
    if same:
        return []
    return [
        Difference(
            what=f"Schedule: handoff vs {tool}",
            expected="; ".join(_plan_text(want, currency) for want in planned),
            found="; ".join(_held_text(doc, currency) for doc in held) or "no documents",
        )
    ]


def _matches(want: Recurring | PlannedInvoice, doc: HeldDocument, tolerance: Decimal) -> bool:
    if abs(want.amount - doc.amount) > tolerance:
        return False
    if isinstance(want, Recurring):
        return (doc.kind, doc.step_months, doc.occurrences, doc.start) == (
            "recurring",
            want.step_months,
            want.occurrences,
            want.start,
        )
    return (doc.kind, doc.start) == ("invoice", want.issued)


def _customer(active: list[HeldDocument], account_name: str, tool: str) -> list[Difference]:
    """Documents billing someone other than the account, or several customers."""
    names = sorted({doc.customer_name for doc in active if doc.customer_name})
    ids = {doc.customer_id for doc in active if doc.customer_id}
    wanted = account_name.strip().casefold()
    if len(ids) > 1 or any(name.strip().casefold() != wanted for name in names):
        return [
            Difference(
                what=f"Customer: handoff vs {tool}",
                expected=account_name,
                found=", ".join(names) or "unknown",
            )
        ]
    return []


def _currency(active: list[HeldDocument]) -> str | None:
    """The currency the documents bill in (the first that says; a mix is caught by the plan)."""
    known = [doc.currency for doc in active if doc.currency]
    if len(set(known)) > 1:
        return "/".join(sorted(set(known)))
    return known[0] if known else None


def _found_text(active: list[HeldDocument], currency: str) -> str:
    """'GBP 36,000.00 (12 x GBP 3,000.00 monthly from 2027-01-01)': the total and its parts."""
    total = sum((doc.total() for doc in active), Decimal(0))
    parts = "; ".join(_held_text(doc, currency) for doc in active)
    return f"{money_text(currency, total)} ({parts or 'nothing billed'})"


def _plan_text(doc: Recurring | PlannedInvoice, currency: str) -> str:
    if isinstance(doc, Recurring):
        return (
            f"{doc.occurrences} x {money_text(currency, doc.amount)} every {doc.step_months} "
            f"month(s) from {doc.start}"
        )
    return f"{money_text(currency, doc.amount)} on {doc.issued}"


def _held_text(doc: HeldDocument, currency: str) -> str:
    money = money_text(doc.currency or currency, doc.amount)
    if doc.state != "active":
        return f"{doc.kind} {doc.document_id} {doc.state}"
    if doc.kind == "recurring":
        every = f"every {doc.step_months} month(s)" if doc.step_months else "not monthly"
        count = f"{doc.occurrences} x" if doc.occurrences is not None else "no end date:"
        return f"{count} {money} {every} from {doc.start}"
    return f"{money} on {doc.start}"
