"""Layout of the sales -> delivery form: its sections, fields, hints and readable rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from forms import limits
from forms.base import FormValues
from forms.display import EMPTY, fmt_date, or_empty, user_mention, yes_no
from forms.ids import KEY_CONTACT_BLOCKS, KEY_CONTACT_PARTS, ActionId
from forms.ids import SalesToDeliveryField as F
from forms.layout import Field, Kind, Row, Section
from forms.lines import MILESTONE_FORMAT, PEOPLE_FORMAT, Person
from forms.money import choices_from, format_money
from forms.sales_to_delivery_model import PAYMENT_TERMS_DAYS, SalesToDeliveryForm

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
CONTACT_ROLES = {
    "buyer": "Buyer / executive sponsor",
    "day_to_day": "Day-to-day contact",
    "billing_contact": "Billing / accounts payable contact",
}
_CONTACT_SHORT = {
    "buyer": "Buyer",
    "day_to_day": "Day-to-day contact",
    "billing_contact": "Billing contact",
}
_CONTACT_HINTS = {
    "buyer": "The executive sponsor: who signed, or owns the budget.",
    "day_to_day": "Who the team will work with every week.",
    "billing_contact": "Who receives and pays the invoices (accounts payable).",
}


def _person_fields(attribute: str) -> tuple[Field, ...]:
    short = _CONTACT_SHORT[attribute]
    kinds = (Kind.TEXT, Kind.TEXT, Kind.EMAIL, Kind.TEXT)
    labels = (f"{short}: name", f"{short}: role or title", f"{short}: email", f"{short}: phone")
    hints = (_CONTACT_HINTS[attribute], None, None, None)
    return tuple(
        Field(
            block,
            label,
            kind,
            hint=hint,
            path=(attribute, part),
            max_length=limits.PHONE.max_length if part == "phone" else None,
        )
        for block, part, kind, label, hint in zip(
            KEY_CONTACT_BLOCKS[attribute], KEY_CONTACT_PARTS, kinds, labels, hints, strict=True
        )
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


def format_person(person: Person) -> str:
    """'Jane Doe (CFO) · jane@client.com · +44 20 7946 0000'."""
    return f"{person.name} ({person.role}) · {person.email} · {person.phone or 'no phone given'}"


def _contact_row(attribute: str) -> Row:
    def render(form: SalesToDeliveryForm) -> str:
        person: Person = getattr(form, attribute)
        return format_person(person)

    return Row(CONTACT_ROLES[attribute], render)


def _money(form: SalesToDeliveryForm) -> str:
    return format_money(form.contract_value, form.currency)


def _milestones(form: SalesToDeliveryForm) -> str:
    lines = [
        f"{fmt_date(m.due_date)} · {format_money(m.amount, form.currency)} · {m.description}"
        for m in form.milestones
    ]
    return "\n".join(lines) or EMPTY


CONTEXT = Section(
    "Context",
    (
        Field(F.ACCOUNT_NAME, "Account", Kind.TEXT, hint="Prefilled from the CRM company."),
        Field(
            F.WHY_THEY_BOUGHT,
            "Why they bought",
            Kind.MULTILINE,
            hint="The client's problem and goals, in their words.",
            placeholder="Month-end reporting takes a week and nobody trusts the numbers",
        ),
        Field(
            F.SUCCESS_CRITERIA,
            "Success after 90 days",
            Kind.MULTILINE,
            hint="Measurable, e.g. 'weekly dashboard live by week 4'.",
            placeholder="Month-end pack out by working day 3; 5 finance users active weekly",
        ),
        Field(
            F.MONTH_ONE,
            "What month one must feel like",
            Kind.MULTILINE,
            hint="Reporting format and cadence, meeting rhythm, first visible wins.",
            placeholder="Tuesday call with Bob; one-page PDF status every Friday",
        ),
        Field(
            F.PROMISES_MADE,
            "Promises made during the sale",
            Kind.MULTILINE,
            hint="Anything you said yes to. 'None' is an answer.",
            placeholder="Weekly status call with the CFO; first dashboard before the May board",
        ),
        Field(
            F.COMPETITORS,
            "Competitors considered",
            Kind.TEXT,
            placeholder="Tableau partner Datawise; building it in-house",
        ),
    ),
)
CONTACTS = Section(
    "Key contacts",
    (
        *_person_fields("buyer"),
        *_person_fields("day_to_day"),
        *_person_fields("billing_contact"),
        Field(
            F.OTHER_CONTACTS,
            "Other contacts",
            Kind.MULTILINE,
            hint=f"One per line: {PEOPLE_FORMAT}",
            placeholder="Carl Wu, IT lead, carl@client.com, +44 20 7946 0000",
        ),
        Field(F.ACCOUNT_MANAGER, "Our account manager", Kind.USER),
        Field(F.DELIVERY_LEAD, "Our delivery lead", Kind.USER),
    ),
    rows=(
        *(_contact_row(attribute) for attribute in CONTACT_ROLES),
        Row("Other contacts", lambda m: "\n".join(map(format_person, m.other_contacts)) or EMPTY),
        Row("Our account manager", lambda m: user_mention(m.account_manager)),
        Row("Our delivery lead", lambda m: user_mention(m.delivery_lead)),
    ),
)
SCOPE = Section(
    "Agreed scope",
    (
        Field(
            F.DELIVERABLES,
            "Deliverables",
            Kind.MULTILINE,
            hint="One per line. Prefilled from the deal's line items.",
            placeholder="Month-end dashboard\nData pipeline from Xero\nTraining for 5 users",
        ),
        Field(
            F.OUT_OF_SCOPE,
            "Explicitly out of scope",
            Kind.MULTILINE,
            hint="What we will not do, so nobody assumes it.",
            placeholder="Budgeting and forecasting; integrations beyond Xero",
        ),
        Field(
            F.ACCEPTANCE_CRITERIA,
            "Acceptance criteria",
            Kind.MULTILINE,
            hint="What 'done' means for each milestone or deliverable.",
            placeholder="Dashboard: CFO signs off March figures matching the ledger to the penny",
        ),
        Field(
            F.ASSUMPTIONS,
            "Assumptions",
            Kind.MULTILINE,
            placeholder="Client supplies read-only Xero access in week 1; one round of revisions",
        ),
        Field(F.TERM_START, "Term start", Kind.DATE, hint="Prefilled from the deal."),
        Field(F.TERM_END, "Term end", Kind.DATE),
        Field(F.CONTRACT_URL, "Signed contract or SOW", Kind.URL, placeholder="https://"),
    ),
)
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
            hint="Prefilled from the deal's line items: finance prices the invoices from these.",
            placeholder="12 x Analytics licence at GBP 1,000.00 = GBP 12,000.00",
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
KICKOFF = Section(
    "Kickoff and access",
    (
        Field(F.EARLIEST_KICKOFF, "Earliest kickoff", Kind.DATE),
        Field(
            F.GO_LIVE_DATE,
            "Committed go-live or first deliverable",
            Kind.DATE,
            hint="The date the client expects something live.",
        ),
        Field(
            F.GO_LIVE_PROMISED,
            "Promised to the client",
            Kind.CHECKBOX,
            choices=(("yes", "The client was promised this date"),),
        ),
        Field(
            F.KICKOFF_WAITS_ON,
            "Kickoff waits on",
            Kind.TEXT,
            hint="e.g. the outgoing supplier's contract ends on 31 March.",
        ),
        Field(
            F.ACCESS_NEEDED,
            "Access the team will need",
            Kind.MULTILINE,
            hint="Systems, accounts, and who at the client grants them. Never credentials.",
            placeholder="Read-only Xero and the reporting database; Kim (IT) grants both in week 1",
        ),
        Field(
            F.CLIENT_TOOLS,
            "The client's tools and integrations",
            Kind.MULTILINE,
            placeholder="Xero, Slack Connect, Google Sheets",
        ),
    ),
)
SECURITY_NEEDS = (
    ("dpa", "Data processing agreement (DPA)"),
    ("sso", "Single sign-on (SSO)"),
    ("data_residency", "Data residency"),
    ("pen_test", "Penetration test"),
    ("security_review", "Security questionnaire or review"),
)
SUPPORT_TIERS = (
    ("standard", "Standard (business hours)"),
    ("business_hours_plus", "Extended hours"),
    ("premium", "Premium (24x7)"),
    ("none", "No support agreed"),
)


def _labels(choices: tuple[tuple[str, str], ...], values: list[str]) -> str:
    names = dict(choices)
    return ", ".join(names[v] for v in values) or EMPTY


RISKS = Section(
    "Security, support and risks",
    (
        Field(F.SECURITY_NEEDS, "Security and compliance", Kind.CHECKBOX, choices=SECURITY_NEEDS),
        Field(
            F.SECURITY_NOTES,
            "Security details",
            Kind.MULTILINE,
            placeholder="Data must stay in the EU; SSO through Okta; DPA signed on 3 March",
        ),
        Field(F.SUPPORT_TIER, "Support tier", Kind.SELECT, choices=SUPPORT_TIERS),
        Field(
            F.RISKS_NONE_KNOWN,
            "Risks",
            Kind.CHECKBOX,
            choices=(("yes", "None known"),),
            hint="Tick only if you know of none; otherwise list them below.",
        ),
        Field(
            F.RISKS,
            "Risks and sensitivities",
            Kind.MULTILINE,
            placeholder="The CFO who signed leaves in June; IT team of two, slow to grant access",
        ),
    ),
    rows=(
        Row("Security and compliance", lambda m: _labels(SECURITY_NEEDS, m.security_needs)),
        Row("Security details", lambda m: or_empty(m.security_notes)),
        Row(
            "Support tier",
            lambda m: _labels(SUPPORT_TIERS, [m.support_tier] if m.support_tier else []),
        ),
        Row(
            "Risks and sensitivities",
            lambda m: "None known" if m.risks_none_known else or_empty(m.risks),
        ),
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


def _with_vendor_limit(field: Field) -> Field:
    """The field capped at its vendor limit (forms.limits), the limit said in its hint."""
    limit = limits.BY_FIELD.get(str(field.name))
    if limit is None or field.kind not in (Kind.TEXT, Kind.MULTILINE):
        return field
    hint = f"{field.hint} {limit.hint()}" if field.hint else limit.hint()
    return replace(field, max_length=limit.max_length, hint=hint)


def _limited(section: Section) -> Section:
    return replace(section, fields=tuple(map(_with_vendor_limit, section.fields)))


LAYOUT = tuple(map(_limited, (CONTEXT, CONTACTS, SCOPE, KICKOFF, RISKS, BILLING, ANOMALIES)))
