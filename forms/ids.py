"""Every Slack id the forms use, in one place: listeners import these, never retype strings.

Convention: the block_id of an input block IS the form field name, and its action_id is
`ActionId.VALUE` unless the element dispatches a block_actions payload of its own.
"""

from enum import StrEnum


class CallbackId(StrEnum):
    """callback_id of each modal we open (one per handoff kind, plus the utility views)."""

    SALES_TO_DELIVERY = "handoff_form.sales_to_delivery"
    DELIVERY_TO_FINANCE = "handoff_form.delivery_to_finance"
    RENEWAL_TO_SALES = "handoff_form.renewal_to_sales"
    READONLY = "handoff_readonly"
    AMEND = "handoff_amend"  # a submitted handoff reopened to amend it (any kind)
    LOADING = "handoff_loading"
    ERROR = "handoff_error"


class ActionId(StrEnum):
    """action_id of interactive elements."""

    VALUE = "value"
    SCHEDULE_CHANGED = "schedule_changed"
    SAVE_DRAFT = "save_draft"
    STEP_BACK = "step_back"


class BlockId(StrEnum):
    """block_id of the non-input blocks a listener may need to find."""

    INTRO = "intro"
    PROGRESS = "progress"
    ERRORS_SUMMARY = "errors_summary"
    DRAFT_ACTIONS = "draft_actions"
    MESSAGE = "message"


class SalesToDeliveryField(StrEnum):
    """Input block ids of the sales -> delivery form."""

    ACCOUNT_NAME = "account_name"
    WHY_THEY_BOUGHT = "why_they_bought"
    SUCCESS_CRITERIA = "success_criteria"
    MONTH_ONE = "month_one"
    PROMISES_MADE = "promises_made"
    COMPETITORS = "competitors"
    BUYER_NAME = "buyer_name"
    BUYER_ROLE = "buyer_role"
    BUYER_EMAIL = "buyer_email"
    BUYER_PHONE = "buyer_phone"
    DAY_TO_DAY_NAME = "day_to_day_name"
    DAY_TO_DAY_ROLE = "day_to_day_role"
    DAY_TO_DAY_EMAIL = "day_to_day_email"
    DAY_TO_DAY_PHONE = "day_to_day_phone"
    BILLING_CONTACT_NAME = "billing_contact_name"
    BILLING_CONTACT_ROLE = "billing_contact_role"
    BILLING_CONTACT_EMAIL = "billing_contact_email"
    BILLING_CONTACT_PHONE = "billing_contact_phone"
    OTHER_CONTACTS = "other_contacts"
    ACCOUNT_MANAGER = "account_manager"
    DELIVERY_LEAD = "delivery_lead"
    DELIVERABLES = "deliverables"
    OUT_OF_SCOPE = "out_of_scope"
    TERM_START = "term_start"
    TERM_END = "term_end"
    CONTRACT_URL = "contract_url"
    ACCEPTANCE_CRITERIA = "acceptance_criteria"
    ASSUMPTIONS = "assumptions"
    CONTRACT_VALUE = "contract_value"
    CURRENCY = "currency"
    SCHEDULE = "schedule"
    BILLING_MODEL = "billing_model"
    RETAINER_AMOUNT = "retainer_amount"
    RATE_CARD = "rate_card"
    SPEND_CAP = "spend_cap"
    DEPOSIT_AMOUNT = "deposit_amount"
    BALANCE_DATE = "balance_date"
    USAGE_TERMS = "usage_terms"
    MILESTONES = "milestones"
    SOLD_LINES = "sold_lines"
    BILLING_IN_ARREARS = "billing_in_arrears"
    FIRST_INVOICE_DATE = "first_invoice_date"
    PAYMENT_TERMS_DAYS = "payment_terms_days"
    PO_REQUIRED = "po_required"
    PO_NUMBER = "po_number"
    INVOICING_ENTITY = "invoicing_entity"
    TAX_ID = "tax_id"
    BILLING_ADDRESS = "billing_address"
    BILLING_CONDITIONS = "billing_conditions"
    EARLIEST_KICKOFF = "earliest_kickoff"
    GO_LIVE_DATE = "go_live_date"
    GO_LIVE_PROMISED = "go_live_promised"
    KICKOFF_WAITS_ON = "kickoff_waits_on"
    ACCESS_NEEDED = "access_needed"
    CLIENT_TOOLS = "client_tools"
    SECURITY_NEEDS = "security_needs"
    SECURITY_NOTES = "security_notes"
    SUPPORT_TIER = "support_tier"
    NON_STANDARD_TERMS = "non_standard_terms"
    DISCOUNTS = "discounts"
    DISCOUNT_AMOUNT = "discount_amount"
    RISKS_NONE_KNOWN = "risks_none_known"
    RISKS = "risks"


KEY_CONTACT_PARTS = ("name", "role", "email", "phone")
KEY_CONTACT_BLOCKS: dict[str, tuple[SalesToDeliveryField, ...]] = {
    contact: tuple(SalesToDeliveryField(f"{contact}_{part}") for part in KEY_CONTACT_PARTS)
    for contact in ("buyer", "day_to_day", "billing_contact")
}
"""Model attribute of each key contact -> its name, role, email and phone input block ids."""


class DeliveryToFinanceField(StrEnum):
    """Input block ids of the delivery -> finance form."""

    ACCOUNT_NAME = "account_name"
    DELIVERABLES = "deliverables"
    ACCEPTANCE_DATE = "acceptance_date"
    ACCEPTANCE_EVIDENCE_URL = "acceptance_evidence_url"
    OUTSTANDING_ITEMS = "outstanding_items"
    CURRENCY = "currency"
    CONTRACT_VALUE = "contract_value"
    ALREADY_INVOICED = "already_invoiced"
    PAYMENT_TERMS_DAYS = "payment_terms_days"
    PO_NUMBER = "po_number"
    BALANCE_DUE = "balance_due"
    VARIATIONS = "variations"
    BILLABLE_EXTRAS = "billable_extras"
    NOTHING_DUE = "nothing_due"
    INVOICE_DATE = "invoice_date"
    NOTES = "notes"


class RenewalToSalesField(StrEnum):
    """Input block ids of the renewal (ops -> sales) form."""

    ACCOUNT_NAME = "account_name"
    RENEWAL_DATE = "renewal_date"
    CURRENT_VALUE = "current_value"
    CURRENCY = "currency"
    RECOMMENDED_VALUE = "recommended_value"
    HEALTH = "health"
    CLIENT_FEEDBACK = "client_feedback"
    EXPANSION_OPPORTUNITIES = "expansion_opportunities"
    RISKS = "risks"
    # The account's record, prefilled: what was agreed at the start, and what happened since.
    AGREED_SCOPE = "agreed_scope"
    AGREED_TERMS = "agreed_terms"
    PROMISES_MADE = "promises_made"
    SUCCESS_CRITERIA = "success_criteria"
    AMENDMENTS = "amendments"
    DELIVERY_OUTCOMES = "delivery_outcomes"
    THREAD_QA = "thread_qa"
