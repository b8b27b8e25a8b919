"""Layout of the sales -> delivery form: its sections, fields, hints and readable rows."""

from __future__ import annotations

from dataclasses import replace

from forms import limits
from forms.display import EMPTY, or_empty, user_mention
from forms.ids import KEY_CONTACT_BLOCKS, KEY_CONTACT_PARTS
from forms.ids import SalesToDeliveryField as F
from forms.layout import Field, Kind, Row, Section
from forms.lines import PEOPLE_FORMAT, Person
from forms.sales_to_delivery_billing_layout import ANOMALIES, BILLING
from forms.sales_to_delivery_model import SalesToDeliveryForm

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


def format_person(person: Person) -> str:
    """'Jane Doe (CFO) · jane@client.com · +44 20 7946 0000'."""
    return f"{person.name} ({person.role}) · {person.email} · {person.phone or 'no phone given'}"


def _contact_row(attribute: str) -> Row:
    def render(form: SalesToDeliveryForm) -> str:
        person: Person = getattr(form, attribute)
        return format_person(person)

    return Row(CONTACT_ROLES[attribute], render)


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
