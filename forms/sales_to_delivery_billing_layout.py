"""Layout of the sales -> delivery form's billing step: billing, billing models, anomalies."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from forms.base import FormValues
from forms.display import EMPTY, fmt_date, or_empty, yes_no
from forms.ids import ActionId
from forms.ids import SalesToDeliveryField as F
from forms.layout import Field, Kind, Row, Section
from forms.lines import MILESTONE_FORMAT
from forms.money import choices_from, format_money
from forms.sales_to_delivery_model import PAYMENT_TERMS_DAYS, SalesToDeliveryForm
from forms.sold_lines import SOLD_LINE_FORMAT

BILLING_MODELS = (
    ("fixed", "Fixed price"),
    ("retainer", "Retainer (monthly amount)"),
    ("time_and_materials", "Time and materials"),
    ("deposit_balance", "Deposit + balance"),
    ("usage", "Usage-based"),
)
SCHEDULES = (
    ("one_off", "One-off"),
    ("monthly", "Monthly"),
    ("quarterly", "Quarterly"),
    ("milestones", "Milestones"),
)
PAYMENT_TERMS = tuple(
    (str(days), "Due on receipt" if days == 0 else f"{days} days") for days in PAYMENT_TERMS_DAYS
)


def _is_milestones(values: FormValues) -> bool:
    return values.get(F.SCHEDULE) == "milestones"


def _model_is(model: str) -> Callable[[FormValues], bool]:
    return lambda values: values.get(F.BILLING_MODEL) == model


def model_terms(form: SalesToDeliveryForm) -> str:
    """The chosen billing model's own terms, as one readable value."""

    def money(amount: Decimal) -> str:
        return format_money(amount, form.currency)

    match form.billing_model:
        case "retainer" if form.retainer_amount is not None:
            return f"{money(form.retainer_amount)} a month"
        case "time_and_materials":
            cap = f"; capped at {money(form.spend_cap)}" if form.spend_cap else "; no cap"
            return f"{form.rate_card}{cap}"
        case "deposit_balance" if form.deposit_amount is not None:
            balance = money(form.contract_value - form.deposit_amount)
            return (
                f"Deposit {money(form.deposit_amount)} on {fmt_date(form.first_invoice_date)}, "
                f"balance {balance} on {fmt_date(form.balance_date)}"
            )
        case "usage":
            return or_empty(form.usage_terms)
    return EMPTY


def _money(form: SalesToDeliveryForm) -> str:
    return format_money(form.contract_value, form.currency)


def _milestones(form: SalesToDeliveryForm) -> str:
    lines = [
        f"{fmt_date(m.due_date)} · {format_money(m.amount, form.currency)} · {m.description}"
        for m in form.milestones
    ]
    return "\n".join(lines) or EMPTY


BILLING = Section(
    "Billing",
    (
        Field(
            F.CONTRACT_VALUE, "Contract value", Kind.NUMBER, hint="Total for the term, before tax."
        ),
        Field(F.CURRENCY, "Currency", Kind.SELECT, choices_for=choices_from),
        Field(
            F.SCHEDULE,
            "Billing schedule",
            Kind.SELECT,
            choices=SCHEDULES,
            dispatch=True,
            action_id=ActionId.SCHEDULE_CHANGED,
            hint="'Milestones' adds a field to list them.",
        ),
        Field(
            F.BILLING_MODEL,
            "Billing model",
            Kind.SELECT,
            choices=BILLING_MODELS,
            dispatch=True,
            action_id=ActionId.SCHEDULE_CHANGED,  # same re-render: the model's own fields appear
            hint="Each model asks for its own terms once chosen.",
        ),
        Field(
            F.RETAINER_AMOUNT,
            "Monthly retainer",
            Kind.NUMBER,
            show_if=_model_is("retainer"),
            hint="Billed monthly; times the months of the term it makes the contract value.",
        ),
        Field(
            F.RATE_CARD,
            "Rate card",
            Kind.MULTILINE,
            show_if=_model_is("time_and_materials"),
            placeholder="Consultant: GBP 900 a day\nAnalyst: GBP 600 a day",
            hint="The contract value is the estimate; finance invoices the hours worked.",
        ),
        Field(
            F.SPEND_CAP,
            "Cap",
            Kind.NUMBER,
            show_if=_model_is("time_and_materials"),
            hint="Most the client pays in total, if agreed.",
        ),
        Field(
            F.DEPOSIT_AMOUNT,
            "Deposit",
            Kind.NUMBER,
            show_if=_model_is("deposit_balance"),
            hint="Invoiced on the first invoice date; the balance follows.",
        ),
        Field(
            F.BALANCE_DATE,
            "Balance invoiced on",
            Kind.DATE,
            show_if=_model_is("deposit_balance"),
        ),
        Field(
            F.USAGE_TERMS,
            "Usage pricing",
            Kind.MULTILINE,
            show_if=_model_is("usage"),
            placeholder="GBP 0.40 per order processed, billed monthly in arrears",
            hint="The contract value is the estimate; finance invoices the usage measured.",
        ),
        Field(
            F.MILESTONES,
            "Milestones",
            Kind.MULTILINE,
            show_if=_is_milestones,
            placeholder="2027-04-01; 40000; Kickoff workshop",
            hint=f"One per line: {MILESTONE_FORMAT}. They must add up to the contract value.",
        ),
        Field(
            F.SOLD_LINES,
            "Lines as sold",
            Kind.MULTILINE,
            hint=(
                f"One per line, in the contract currency: {SOLD_LINE_FORMAT}. They become the "
                "invoice lines, so they must add up to the contract value (or one instalment)."
            ),
            placeholder=(
                "12 x Analytics licence at 1,000.00 less 1,200.00\n1 x Onboarding at 3,000.00"
            ),
        ),
        Field(
            F.BILLING_IN_ARREARS,
            "Billed in arrears",
            Kind.CHECKBOX,
            choices=(("yes", "Invoice after the work, not in advance"),),
        ),
        Field(F.FIRST_INVOICE_DATE, "First invoice date", Kind.DATE),
        Field(F.PAYMENT_TERMS_DAYS, "Payment terms", Kind.SELECT, choices=PAYMENT_TERMS),
        Field(
            F.PO_REQUIRED,
            "PO required",
            Kind.CHECKBOX,
            choices=(("yes", "The client needs a PO number on invoices"),),
        ),
        Field(F.PO_NUMBER, "PO number", Kind.TEXT, hint="Needed when a PO is required."),
        Field(F.INVOICING_ENTITY, "Client legal entity to invoice", Kind.TEXT),
        Field(F.TAX_ID, "Client tax or VAT ID", Kind.TEXT),
        Field(
            F.BILLING_ADDRESS,
            "Billing address",
            Kind.MULTILINE,
            hint="As it must appear on invoices, one line per address line.",
            placeholder="Unit 4, Quayside Works\n12 Harbour Road\nBristol BS1 6AA\nUnited Kingdom",
        ),
        Field(
            F.BILLING_CONDITIONS,
            "Billing conditions",
            Kind.MULTILINE,
            hint="e.g. invoice only after sign-off; upload invoices to their portal.",
            placeholder="Invoices go through their Coupa portal, never by email",
        ),
    ),
    rows=(
        Row("Contract value", _money),
        Row("Billing schedule", lambda m: dict(SCHEDULES)[m.schedule]),
        Row("Billing model", lambda m: dict(BILLING_MODELS)[m.billing_model]),
        Row("Billing model terms", model_terms),
        Row("Milestones", _milestones),
        Row("Lines as sold", lambda m: or_empty(m.sold_lines)),
        Row("Billed in arrears", lambda m: yes_no(m.billing_in_arrears)),
        Row("First invoice date", lambda m: fmt_date(m.first_invoice_date)),
        Row("Payment terms", lambda m: dict(PAYMENT_TERMS)[str(m.payment_terms_days)]),
        Row("PO required", lambda m: yes_no(m.po_required)),
        Row("PO number", lambda m: or_empty(m.po_number)),
        Row("Client legal entity to invoice", lambda m: or_empty(m.invoicing_entity)),
        Row("Client tax or VAT ID", lambda m: or_empty(m.tax_id)),
        Row("Billing address", lambda m: or_empty(m.billing_address)),
        Row("Billing conditions", lambda m: or_empty(m.billing_conditions)),
    ),
)
ANOMALIES = Section(
    "Anomalies",
    (
        Field(
            F.NON_STANDARD_TERMS,
            "Non-standard terms",
            Kind.MULTILINE,
            placeholder="Termination for convenience on 30 days' notice after month 6",
        ),
        Field(
            F.DISCOUNTS,
            "Discounts",
            Kind.MULTILINE,
            placeholder="10% launch-partner discount for year one, agreed by the CFO",
        ),
        Field(
            F.DISCOUNT_AMOUNT,
            "Discount amount",
            Kind.NUMBER,
            hint="Already taken off the contract value; finance states it on every invoice.",
        ),
    ),
    rows=(
        Row("Non-standard terms", lambda m: or_empty(m.non_standard_terms)),
        Row("Discounts", lambda m: or_empty(m.discounts)),
        Row(
            "Discount amount",
            lambda m: (
                format_money(m.discount_amount, m.currency)
                if m.discount_amount is not None
                else EMPTY
            ),
        ),
    ),
)
