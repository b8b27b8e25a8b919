"""End-to-end delivery through the outbox: a submitted handoff lands, fully populated, in each tool.

The whole app runs as in tests/bot/test_handoff_flow.py (signed Slack requests into a real Bolt
app, Slack and HubSpot on 127.0.0.1), with the ops and finance teams' tools pointed at stand-ins of
Asana, Jira, QuickBooks Online and Xero that check what they receive against the vendors' specs.
The outbox is drained explicitly, as the worker would between requests, moving the fake clock to
each job's next attempt.

The helpers here (`World`, `world_factory`) are shared with test_delivery_faults.py and
test_delivery_thread.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.config import parse_org_config
from bot.services import actions
from bot.services.briefs import form_sections
from storage.models import ExternalRecord, Handoff, HandoffStatus, OutboxJob
from tests.bot.conftest import (
    ADMIN,
    FIN_MEMBER,
    HANDOFF_CHANNEL,
    OPS_MEMBER,
    SELLER,
    Harness,
    org_dict,
    won_event,
)
from tests.bot.test_handoff_flow import DEAL, VALID, open_form, submit
from tests.integrations.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    QBO_TOKEN_PATH,
    XERO_PREFIX,
    XERO_TOKEN_PATH,
    FakeQuickBooks,
    FakeXero,
    history_text,
    qbo_total,
    xero_total,
)
from tests.support import fake_asana, fake_jira
from tests.support.fake_asana import FakeAsana
from tests.support.fake_jira import FakeJira, adf_text, assert_valid_adf, link_targets
from tests.support.fake_slack import FakeSlack, Posted
from tests.support.openapi_check import assert_matches_spec
from tests.support.qbo_schema import assert_matches_qbo_schema
from tests.support.stub_server import Recorded, Reply, StubServer

REALM = "9130"
XERO_SPEC = "xero/xero_accounting.subset.yaml"
XERO_TENANT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
ACCOUNT_MANAGER = "U0AM00001"
NAMES = {
    SELLER: "Sam Seller",
    OPS_MEMBER: "Dana Smith",
    FIN_MEMBER: "Frank Ledger",
    ACCOUNT_MANAGER: "Alex Manager",
}
# Every field of the form filled in, so "fully populated" has something to prove.
FULL: dict[str, Any] = {
    **VALID,
    "buyer_phone": "+44 20 7946 0001",
    "other_contacts": "Kim Tech, IT lead, kim@acme.example, +44 20 7946 0002",
    "account_manager": ACCOUNT_MANAGER,
    "delivery_lead": OPS_MEMBER,
    "contract_url": "https://docs.example.com/acme-sow.pdf",
    "po_required": ["yes"],
    "po_number": "PO-7781",
    "invoicing_entity": "Acme Holdings Ltd",
    "tax_id": "GB123456789",
    "billing_conditions": "Invoices must quote the PO number",
    "access_needed": "VPN and the reporting database; Kim grants both",
    "client_tools": "Power BI, Snowflake",
    "non_standard_terms": "Net 30 instead of our net 14",
    "discounts": "10% first-year discount, already in the value",
    "risks_none_known": [],
    "risks": "Their IT team is two people",
    "competitors": "Datawise, a Tableau partner",
    "assumptions": "Kim grants VPN access in week one",
    "security_notes": "Data stays in the EU; SSO through Okta",
    "billing_address": "1 Market Street\nLeeds LS1 1AA",
    "discount_amount": "4000",
    "sold_lines": (
        "12 x Reporting licence at 3,000.00 less 4,000.00\n1 x Onboarding workshop at 4,000.00"
    ),
}
# The lines as sold shared over the four quarters: (description, quantity, unit price, discount).
QUARTER = "; billed in 4 quarterly instalments)"
QUARTER_LINES = [
    (
        "Reporting licence (sold as 12 x GBP 3,000.00 less GBP 4,000.00" + QUARTER,
        12,
        Decimal("750.00"),
        Decimal("1000.00"),
    ),
    ("Onboarding workshop (sold as 1 x GBP 4,000.00" + QUARTER, 1, Decimal("1000.00"), None),
]
DELIVERABLES = ["Reporting pipeline", "Dashboard", "Training session"]
# Fields whose words must reach the vendors exactly as typed.
TYPED = (
    "why_they_bought",
    "success_criteria",
    "month_one",
    "promises_made",
    "out_of_scope",
    "contract_url",
    "po_number",
    "invoicing_entity",
    "tax_id",
    "billing_conditions",
    "kickoff_waits_on",
    "access_needed",
    "client_tools",
    "non_standard_terms",
    "discounts",
    "risks",
    "acceptance_criteria",
    "competitors",
    "assumptions",
    "security_notes",
)
# Billing-relevant fields a finance tool must show in full (the issue's "finance fidelity").
FINANCE_TYPED = (
    "po_number",
    "invoicing_entity",
    "tax_id",
    "billing_conditions",
    "non_standard_terms",
    "discounts",
    "contract_url",
)
TOOLS = {
    "asana": lambda url: {
        "vendor": "asana",
        "workspace_gid": fake_asana.WORKSPACE,
        "base_url": url + fake_asana.PREFIX,
    },
    "jira": lambda url: {"vendor": "jira", "base_url": url, "project_key": fake_jira.PROJECT},
    "quickbooks": lambda url: {
        "vendor": "quickbooks",
        "realm_id": REALM,
        "item_ref": "7",
        "base_url": url,
        "token_url": url + QBO_TOKEN_PATH,
        "term_refs": {30: "3"},
    },
    "xero": lambda url: {
        "vendor": "xero",
        "tenant_id": XERO_TENANT,
        "account_code": "200",
        "base_url": url + XERO_PREFIX,
        "token_url": url + XERO_TOKEN_PATH,
    },
}
ENV = {
    "ASANA_TOKEN": fake_asana.TOKEN,
    "JIRA_EMAIL": fake_jira.EMAIL,
    "JIRA_API_TOKEN": fake_jira.TOKEN,
    "QBO_CLIENT_ID": CLIENT_ID,
    "QBO_CLIENT_SECRET": CLIENT_SECRET,
    "QBO_REFRESH_TOKEN": "refresh-0",  # the stand-in's token endpoint starts from this one
    "XERO_CLIENT_ID": CLIENT_ID,
    "XERO_CLIENT_SECRET": CLIENT_SECRET,
    "XERO_REFRESH_TOKEN": "refresh-0",
}


@dataclass
class World:
    """The app with its ops and finance tools played by stand-ins; the outbox drained by hand."""

    h: Harness
    servers: dict[str, StubServer]  # the two stand-ins in use, by vendor
    asana: FakeAsana
    jira: FakeJira
    qbo: FakeQuickBooks
    xero: FakeXero

    # --- driving the app ------------------------------------------------------------------------

    def submit(self, values: dict[str, Any] | None = None) -> int:
        """Win the deal through the webhook, then fill and submit the form as the seller."""
        self.h.hubspot.add_deal(DEAL)
        self.h.hubspot_webhook([won_event(DEAL, 1)])
        self.h.drain()  # the worker DMs the seller the form button
        [dm] = self.h.slack.dms_to(SELLER)
        handoff_id = int(dm.blocks[1]["elements"][0]["value"])
        view_id, view = open_form(self.h, handoff_id)
        response = submit(self.h, view_id, view, values or FULL)
        for _ in range(3):
            # A field that depends on another answer (milestones, a billing model's terms)
            # appears when the step is drawn again: answer it there, as a person would.
            again = json.loads(response.body or "{}").get("view") or {}
            if again.get("callback_id") != view["callback_id"]:
                break
            response = submit(self.h, view_id, again, values or FULL)
        assert response.status == 200, response.body
        assert json.loads(response.body)["response_action"] == "update"
        assert json.loads(response.body)["view"]["callback_id"] != view["callback_id"]
        return handoff_id

    def settle(self, rounds: int = 300) -> None:
        """Drain, then move the clock to the next due job and drain again, until none is due."""
        self.run_until(lambda: False, rounds)

    def run_until(self, done: Callable[[], bool], rounds: int = 300) -> None:
        """Like `settle`, but stop as soon as `done()` holds after a drain."""
        for _ in range(rounds):
            self.h.drain()
            due = self.next_due()
            if done() or due is None:
                return
            self.h.clock.now = max(self.h.clock.now, due)

    def next_due(self) -> datetime | None:
        with self.h.services.uow() as uow:
            return uow.repo.next_due_at()

    # --- reading state --------------------------------------------------------------------------

    def handoff(self, handoff_id: int) -> Handoff:
        with self.h.services.uow() as uow:
            found = uow.repo.handoff(handoff_id)
            assert found is not None
            return found

    def record(self, handoff_id: int, target: str) -> ExternalRecord:
        found = self.handoff(handoff_id).record(target)
        assert found is not None
        return found

    def jobs(self, handoff_id: int, action: str) -> list[OutboxJob]:
        with self.h.services.uow() as uow:
            return [j for j in uow.repo.jobs_for(handoff_id) if j.action == action]

    def record_job(self, handoff_id: int, team: str) -> OutboxJob:
        """The first job creating `team`'s record (the one submitting the form enqueued)."""
        jobs = self.jobs(handoff_id, actions.CREATE_RECORD)
        return next(j for j in jobs if j.payload["team"] == team)

    def message(self, handoff_id: int) -> str:
        """The handoff message as it reads now (blocks as JSON text)."""
        ts = self.handoff(handoff_id).thread_ts
        assert ts is not None
        return json.dumps(self.h.slack.latest(HANDOFF_CHANNEL, ts).blocks, ensure_ascii=False)

    def admin_dms(self) -> list[Posted]:
        return self.h.slack.dms_to(ADMIN)

    def requests(self, vendor: str, method: str, path_end: str) -> list[Recorded]:
        return [
            r
            for r in self.servers[vendor].requests
            if r.method == method and r.path.endswith(path_end)
        ]

    def thread_url(self, handoff_id: int) -> str:
        ts = self.handoff(handoff_id).thread_ts
        assert ts is not None
        return f"https://example.slack.com/archives/{HANDOFF_CHANNEL}/p{ts.replace('.', '')}"


WorldFactory = Callable[..., World]


class Crash(BaseException):
    """A worker process dying: nothing in the app catches it."""


@contextmanager
def world_factory(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    """Builds worlds whose stand-ins stop when the test ends."""
    with ExitStack() as stack:

        def build(ops: str = "asana", finance: str = "quickbooks", **org: Any) -> World:
            asana, jira, qbo, xero = (
                FakeAsana(),
                FakeJira(),
                FakeQuickBooks(REALM),
                FakeXero(XERO_TENANT),
            )
            handlers: dict[str, Callable[[Recorded], Reply]] = {
                "asana": asana,
                "jira": jira,
                "quickbooks": qbo.handle,
                "xero": xero.handle,
            }
            servers = {
                vendor: stack.enter_context(StubServer(handlers[vendor]))
                for vendor in (ops, finance)
            }
            raw = {**org_dict(), **org}
            raw["teams"]["ops"]["tool"] = TOOLS[ops](servers[ops].url)
            raw["teams"]["finance"]["tool"] = TOOLS[finance](servers[finance].url)
            slack = FakeSlack(
                users_by_email={"sam@seller.example": SELLER},
                usergroups={"S0OPS": [OPS_MEMBER]},
                names=dict(NAMES),
            )
            h = make_harness(org=parse_org_config(raw), env=ENV, slack=slack)
            # Requests only enqueue; the test drains, as the worker would after the ack.
            h.services.handoffs.kick = lambda: None
            return World(h, servers, asana, jira, qbo, xero)

        yield build


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


# --- what every tool must show ------------------------------------------------------------------


def form_facts(world: World, handoff_id: int) -> list[str]:
    """Every label and value of the submitted form, with people by name, as vendors must show."""
    facts: list[str] = []
    for title, items in form_sections(world.handoff(handoff_id)):
        facts.append(title)
        for label, value in items:
            facts.append(label)
            # Mentions become names (checked below); every other line is shown as written.
            facts += [line for line in value.split("\n") if line and not line.startswith("<@")]
    return [
        *facts,
        *(FULL[typed] for typed in TYPED),
        "Alex Manager",  # our account manager, by name rather than <@U0AM00001>
        "Dana Smith",  # our delivery lead
        "Dana Ops (Buyer (Operations Director)), dana@acme.example, +44 20 7946 0001",
        "Pat Manager (Day-to-day (Project Manager)), pat@acme.example",
        "Bill Payable (Billing (Accounts Payable)), ap@acme.example",
        "Kim Tech (IT lead), kim@acme.example, +44 20 7946 0002",
        *DELIVERABLES,
        "2027-01-11",  # kickoff date
        "Contract value: GBP 36,000.00",
        "Schedule: Quarterly, 4 invoices of GBP 9,000.00",
        "First invoice: 2027-01-01",
        "Payment terms: 30 days",
        "PO: required (PO-7781)",
        "Term: 2027-01-01 to 2027-12-31",
        world.thread_url(handoff_id),
        f"(ref: handoff-{handoff_id})",
    ]


def assert_both_done(world: World, handoff_id: int, ops_label: str, finance_label: str) -> None:
    """Both records done with ids and links, on the handoff and on its message."""
    handoff = world.handoff(handoff_id)
    assert handoff.status == HandoffStatus.DELIVERED
    shown = world.message(handoff_id)
    for target, label in (("ops", ops_label), ("finance", finance_label)):
        record = world.record(handoff_id, target)
        assert record.status == "done" and record.external_id, target
        link = f"<{record.url}|open>" if record.url else "created"
        assert f":white_check_mark: *{label}:* done — {link}" in shown
    assert "pending" not in shown and "failed" not in shown
    assert world.h.slack.problems == []


def invoice_dates(schedule: dict[str, Any]) -> list[date]:
    """The invoice dates a QuickBooks schedule produces: every NumInterval months to EndDate."""
    start, end = date.fromisoformat(schedule["StartDate"]), date.fromisoformat(schedule["EndDate"])
    dates: list[date] = []
    month = start.month - 1
    while (due := date(start.year + month // 12, month % 12 + 1, start.day)) <= end:
        dates.append(due)
        month += schedule["NumInterval"]
    return dates


# --- the happy paths ----------------------------------------------------------------------------


def test_delivery_asana_and_quickbooks_get_one_fully_populated_record_each(
    worlds: WorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    handoff_id = world.submit()

    world.settle()

    # Asana: one project carrying every field, one task per deliverable plus the conversation.
    [create] = world.requests("asana", "POST", f"/workspaces/{fake_asana.WORKSPACE}/projects")
    assert world.asana.created_projects == 1
    project = world.record(handoff_id, "ops")
    notes = world.asana.projects[project.external_id or ""]["notes"]
    assert [fact for fact in form_facts(world, handoff_id) if fact not in notes] == []
    assert "<@" not in notes
    assert create.json["data"]["name"] == "Acme Ltd — Sales to delivery handoff"
    assert world.thread_url(handoff_id) in create.json["data"]["html_notes"]
    tasks = world.asana.project_tasks(project.external_id or "")
    assert tasks == ["Handoff conversation", *DELIVERABLES]
    assert project.url == world.asana.projects[project.external_id or ""]["permalink_url"]
    fake_asana.assert_requests_match_spec(world.servers["asana"])

    # QuickBooks: one customer and one recurring template billing 4 x 9,000.00 GBP in 2027.
    [customer] = world.qbo.customers.values()
    assert customer["DisplayName"] == "Acme Ltd"
    assert customer["CompanyName"] == "Acme Holdings Ltd"
    assert customer["CurrencyRef"] == {"value": "GBP"}
    assert customer["PrimaryEmailAddr"] == {"Address": "ap@acme.example"}
    [post] = world.requests("quickbooks", "POST", "/recurringtransaction")
    sent = json.loads(post.body, parse_float=Decimal)["Invoice"]
    *sales, discount = sent["Line"]
    assert [
        (
            line["Description"],
            line["SalesItemLineDetail"]["Qty"],
            line["SalesItemLineDetail"]["UnitPrice"],
        )
        for line in sales
    ] == [line[:3] for line in QUARTER_LINES]
    assert (discount["DetailType"], discount["Amount"]) == ("DiscountLineDetail", 1000)
    assert qbo_total(sent) == Decimal("9000.00")  # each quarter bills exactly a quarter
    [template] = world.qbo.recurring.values()
    schedule = template["RecurringInfo"]["ScheduleInfo"]
    assert invoice_dates(schedule) == [
        date(2027, 1, 1),
        date(2027, 4, 1),
        date(2027, 7, 1),
        date(2027, 10, 1),
    ]
    assert Decimal("9000.00") * len(invoice_dates(schedule)) == Decimal(VALID["contract_value"])
    assert template["CurrencyRef"] == {"value": "GBP"}
    assert template["SalesTermRef"] == {"value": "3"}
    assert template["CustomerRef"] == {"value": customer["Id"]}
    assert template["CustomerMemo"]["value"] == (
        "PO number: PO-7781. Payment due within 30 days. "
        "Includes the agreed discount of GBP 4,000.00 over the contract (GBP 1,000.00 here)."
    )
    assert world.thread_url(handoff_id) in template["PrivateNote"]
    for field in FINANCE_TYPED:
        assert " ".join(FULL[field].split()) in " ".join(template["PrivateNote"].split()), field
    assert world.qbo.invoices == {}
    for endpoint, entity in (("/customer", "Customer"), ("/recurringtransaction", "Invoice")):
        for recorded in world.requests("quickbooks", "POST", endpoint):
            body = recorded.json if entity == "Customer" else recorded.json["Invoice"]
            assert_matches_qbo_schema(entity, body)

    finance = world.record(handoff_id, "finance")
    assert finance.external_id == template["Id"]
    assert finance.url == f"https://app.qbo.intuit.com/app/customerdetail?nameId={customer['Id']}"
    assert_both_done(world, handoff_id, "Operations record (Asana)", "Finance record (QuickBooks)")
    # People fields stay mentions in Slack, which shows each person's name.
    assert f"*Our account manager:* <@{ACCOUNT_MANAGER}>" in world.message(handoff_id)

    # HubSpot: one note on the deal linking the thread and both records.
    [note] = world.h.hubspot.notes.values()
    assert note["deal"] == DEAL
    for url in (project.url, finance.url, world.thread_url(handoff_id)):
        assert f'href="{url}"' in note["body"]


def test_delivery_jira_and_xero_get_one_fully_populated_record_each(worlds: WorldFactory) -> None:
    world = worlds("jira", "xero")
    handoff_id = world.submit()

    world.settle()

    # Jira: one issue whose ADF description holds every field, labelled for the look-first search.
    [issue] = world.jira.issues.values()
    fields = issue["fields"]
    assert fields["summary"] == "Acme Ltd — Sales to delivery handoff"
    assert fields["project"] == {"key": fake_jira.PROJECT}
    assert f"handoff-{handoff_id}" in fields["labels"]
    assert_valid_adf(fields["description"])
    seen = adf_text(fields["description"])
    assert [fact for fact in form_facts(world, handoff_id) if fact not in seen] == []
    assert "<@" not in seen
    assert world.thread_url(handoff_id) in link_targets(fields["description"])
    fake_jira.assert_requests_match_spec(world.servers["jira"])

    # Xero: one contact and one repeating invoice of 9,000.00 GBP every 3 months through 2027.
    [contact] = world.xero.contacts.values()
    assert contact["Name"] == "Acme Ltd"
    assert contact["EmailAddress"] == "ap@acme.example"
    assert contact["TaxNumber"] == "GB123456789"
    [put] = world.requests("xero", "PUT", "/RepeatingInvoices")
    [sent] = json.loads(put.body, parse_float=Decimal)["RepeatingInvoices"]
    tag = f" (ref handoff-{handoff_id}/1)"
    assert [
        (
            line["Description"].removesuffix(tag),
            line["Quantity"],
            line["UnitAmount"],
            line.get("DiscountAmount"),
        )
        for line in sent["LineItems"]
    ] == QUARTER_LINES
    assert sent["LineItems"][0]["Description"].endswith(tag)
    assert xero_total(sent) == Decimal("9000.00")
    [repeating] = world.xero.repeating.values()
    assert repeating["Schedule"] == {
        "Period": 3,
        "Unit": "MONTHLY",
        "DueDate": 30,
        "DueDateType": "DAYSAFTERBILLDATE",
        "StartDate": "2027-01-01",
        "EndDate": "2027-10-01",  # the last instalment: 1 Oct
    }
    assert repeating["CurrencyCode"] == "GBP"
    assert repeating["Reference"] == "PO-7781"
    assert repeating["Contact"] == {"ContactID": contact["ContactID"]}
    history = " ".join(h["Details"] for h in world.xero.history[repeating["RepeatingInvoiceID"]])
    assert "GBP 36,000.00 quarterly from 2027-01-01 to 2027-12-31: 4 x 9,000.00" in history
    lines = history_text(world.xero.history[repeating["RepeatingInvoiceID"]])
    for field in FINANCE_TYPED:
        assert any(FULL[field] in line for line in lines), field
    assert contact["Addresses"] == [
        {"AddressType": "POBOX", "AddressLine1": "1 Market Street", "AddressLine2": "Leeds LS1 1AA"}
    ]
    for recorded in world.servers["xero"].requests:
        if recorded.path.startswith(XERO_PREFIX):
            assert_matches_spec(XERO_SPEC, recorded, strip_prefix=XERO_PREFIX)

    ops = world.record(handoff_id, "ops")
    assert (ops.external_id, ops.url) == ("OPS-1", f"{world.servers['jira'].url}/browse/OPS-1")
    finance = world.record(handoff_id, "finance")
    assert finance.external_id == repeating["RepeatingInvoiceID"]
    assert finance.url == (
        "https://go.xero.com/RepeatTransactions/Edit.aspx"
        f"?invoiceID={repeating['RepeatingInvoiceID']}"
    )
    assert_both_done(world, handoff_id, "Operations record (Jira)", "Finance record (Xero)")
    [note] = world.h.hubspot.notes.values()
    assert f'href="{ops.url}"' in note["body"]


def test_delivery_remainder_goes_where_the_organisation_file_says(worlds: WorldFactory) -> None:
    world = worlds(billing={"remainder": "first"})
    values = {**FULL, "schedule": "monthly", "contract_value": "10000.00"}
    del values["sold_lines"]  # they price 36,000.00

    handoff_id = world.submit(values)
    world.settle()

    [template] = world.requests("quickbooks", "POST", "/recurringtransaction")
    [invoice] = world.requests("quickbooks", "POST", "/invoice")
    assert '"Amount":833.33' in template.body.decode()
    schedule = template.json["Invoice"]["RecurringInfo"]["ScheduleInfo"]
    assert (schedule["StartDate"], schedule["EndDate"]) == ("2027-02-01", "2027-12-01")
    assert '"Amount":833.37' in invoice.body.decode()
    assert invoice.json["TxnDate"] == "2027-01-01"
    note = template.json["Invoice"]["PrivateNote"]
    assert "11 x 833.33 and the first 833.37 (separate invoice" in note
    assert world.record(handoff_id, "finance").status == "done"
