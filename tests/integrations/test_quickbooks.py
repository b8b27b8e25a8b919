"""QuickBooksFinance against a loopback QBO company; every body it sends is checked by the XSD."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from integrations import quickbooks
from integrations.ports import BillingSchedule, SoldLine, ThreadComment, VendorRejected
from integrations.registry import VendorContext, build_finance
from tests.integrations.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    MILESTONES,
    QBO_TOKEN_PATH,
    FakeQuickBooks,
    InMemoryTokenStore,
    Sleeps,
    Warnings,
    make_brief,
    missing_fields,
    qbo_total,
    stored_token,
    strings,
    traceable_brief,
    utc,
)
from tests.support.qbo_schema import assert_matches_qbo_schema, qbo_body_errors
from tests.support.stub_server import Recorded, Reply, StubServer

REALM = "9130"
KEY = "handoff-42:finance:1"
ENTITIES = {
    "/customer": "Customer",
    "/invoice": "Invoice",
    "/recurringtransaction": "RecurringTransaction",
}


@dataclass
class Harness:
    fake: FakeQuickBooks
    server: StubServer
    store: InMemoryTokenStore
    sleeps: Sleeps
    warnings: Warnings

    def adapter(self, **settings: Any) -> quickbooks.QuickBooksFinance:
        ctx = VendorContext(
            env={"QBO_CLIENT_ID": CLIENT_ID, "QBO_CLIENT_SECRET": CLIENT_SECRET},
            token_store=self.store,
            sleep=self.sleeps,
            warn_admin=self.warnings,
        )
        base = {
            "realm_id": REALM,
            "item_ref": "7",
            "base_url": self.server.url,
            "token_url": self.server.url + QBO_TOKEN_PATH,
            "term_refs": {30: "3"},
        }
        return quickbooks.build({**base, **settings}, ctx)

    def posts(self, endpoint: str) -> list[Recorded]:
        return self.server.calls("POST", f"/v3/company/{REALM}{endpoint}")

    def queries(self) -> list[str]:
        return [
            r.query["query"][-1] for r in self.server.calls("GET", f"/v3/company/{REALM}/query")
        ]


@pytest.fixture
def qbo() -> Iterator[Harness]:
    """A QBO stand-in; afterwards, every body the adapter POSTed must match Intuit's XSD."""
    fake = FakeQuickBooks(REALM)
    store = InMemoryTokenStore()
    store.save("quickbooks", REALM, stored_token())
    with StubServer(fake.handle) as server:
        yield Harness(fake, server, store, Sleeps(), Warnings())
        for endpoint, entity in ENTITIES.items():
            for rec in server.calls("POST", f"/v3/company/{REALM}{endpoint}"):
                assert_matches_qbo_schema(entity, rec.json)


def raw(rec: Recorded) -> str:
    return rec.body.decode()


# --- schedules --------------------------------------------------------------------------------


def test_quickbooks_monthly_creates_recurring_template_for_the_agreed_instalments(
    qbo: Harness,
) -> None:
    record = qbo.adapter().create_billing_setup(
        make_brief("monthly"), idempotency_key=KEY, look_first=False
    )

    [post] = qbo.posts("/recurringtransaction")
    invoice = post.json["Invoice"]
    assert '"Amount":3000.00' in raw(post)
    assert '"UnitPrice":3000.00' in raw(post)
    assert invoice["RecurringInfo"]["ScheduleInfo"] == {
        "IntervalType": "Monthly",
        "NumInterval": 1,
        "DayOfMonth": 1,
        "StartDate": "2027-01-01",
        "EndDate": "2027-12-01",
    }
    assert invoice["RecurringInfo"]["RecurType"] == "Automated"
    assert invoice["CurrencyRef"] == {"value": "GBP"}
    assert invoice["SalesTermRef"] == {"value": "3"}
    assert invoice["CustomerMemo"]["value"] == "PO number: PO-7781. Payment due within 30 days."
    assert invoice["BillEmail"] == {"Address": "ap@acme.example"}
    note = invoice["PrivateNote"]
    assert note.startswith("Created by Handoff (ref handoff-42/1)")
    assert "GBP 36,000.00 monthly from 2027-01-01 to 2027-12-31: 12 x 3,000.00, net 30" in note
    assert "Billing conditions: Invoice only after the kickoff call" in note
    assert "https://example.slack.com/archives/C1/p1700000000000100" in note
    assert post.query["minorversion"] == ["75"]
    assert record.kind == "recurring_invoice"
    assert record.external_id in qbo.fake.recurring


def test_quickbooks_quarterly_bills_every_three_months(qbo: Harness) -> None:
    qbo.adapter().create_billing_setup(
        make_brief("quarterly"), idempotency_key=KEY, look_first=False
    )

    [post] = qbo.posts("/recurringtransaction")
    schedule = post.json["Invoice"]["RecurringInfo"]["ScheduleInfo"]
    assert (schedule["NumInterval"], schedule["StartDate"], schedule["EndDate"]) == (
        3,
        "2027-01-01",
        "2027-10-01",
    )
    assert '"Amount":9000.00' in raw(post)


def test_quickbooks_one_off_creates_one_invoice_for_the_contract_value(qbo: Harness) -> None:
    record = qbo.adapter().create_billing_setup(
        make_brief("one_off"), idempotency_key=KEY, look_first=False
    )

    [post] = qbo.posts("/invoice")
    body = post.json
    assert '"Amount":12500.00' in raw(post)
    assert (body["TxnDate"], body["DueDate"]) == ("2027-02-15", "2027-03-17")
    assert body["CurrencyRef"] == {"value": "GBP"}
    assert body["Line"][0]["Description"] == "Acme rollout"
    assert record.kind == "invoice"
    assert record.extra_ids == ()
    assert record.url == f"https://app.qbo.intuit.com/app/invoice?txnId={record.external_id}"


def test_quickbooks_milestones_create_one_invoice_per_milestone(qbo: Harness) -> None:
    record = qbo.adapter().create_billing_setup(
        make_brief("milestones"), idempotency_key=KEY, look_first=False
    )

    posts = qbo.posts("/invoice")
    assert [p.json["DueDate"] for p in posts] == ["2027-02-28", "2027-05-31", "2027-09-30"]
    assert [p.json["TxnDate"] for p in posts] == ["2027-01-01"] * 3
    amounts = ['"Amount":10000.00', '"Amount":15000.00', '"Amount":11000.50']
    assert all(amount in raw(p) for amount, p in zip(amounts, posts, strict=True))
    assert [p.json["Line"][0]["Description"] for p in posts] == [
        "Discovery complete",
        "Pilot live",
        "Rollout signed off",
    ]
    assert len({p.query["requestid"][-1] for p in posts}) == 3
    assert len(qbo.fake.invoices) == 3
    assert len(record.extra_ids) == 2


# --- customer ---------------------------------------------------------------------------------


def test_quickbooks_creates_customer_with_billing_contact_and_po_requirement(
    qbo: Harness,
) -> None:
    qbo.adapter().create_billing_setup(make_brief("one_off"), idempotency_key=KEY, look_first=False)

    [post] = qbo.posts("/customer")
    customer = post.json
    assert customer["DisplayName"] == "Acme Widgets Ltd"
    assert customer["CompanyName"] == "Acme Widgets UK Ltd"
    assert (customer["GivenName"], customer["FamilyName"]) == ("Jane", "Doe")
    assert customer["PrimaryEmailAddr"] == {"Address": "ap@acme.example"}
    assert customer["CurrencyRef"] == {"value": "GBP"}
    assert "PO required: yes" in customer["Notes"]
    assert "PO number: PO-7781" in customer["Notes"]
    assert "handoff-42" in customer["Notes"]
    [invoice] = qbo.posts("/invoice")
    assert invoice.json["CustomerRef"] == {"value": next(iter(qbo.fake.customers))}


def test_quickbooks_finds_existing_customer_by_escaped_display_name(qbo: Harness) -> None:
    customer_id = qbo.fake.add_customer(DisplayName="O'Brien & Sons", CurrencyRef={"value": "GBP"})
    brief = make_brief("one_off", account_name="O'Brien & Sons")

    qbo.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    assert qbo.queries()[0].startswith(
        "select * from Customer where DisplayName = 'O\\'Brien & Sons'"
    )
    assert qbo.posts("/customer") == []
    [invoice] = qbo.posts("/invoice")
    assert invoice.json["CustomerRef"] == {"value": customer_id}


def test_quickbooks_rejects_customer_billed_in_another_currency(qbo: Harness) -> None:
    qbo.fake.add_customer(DisplayName="Acme Widgets Ltd", CurrencyRef={"value": "USD"})

    with pytest.raises(VendorRejected, match="billed in USD") as raised:
        qbo.adapter().create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    assert raised.value.field == "CurrencyRef"
    assert qbo.server.calls("POST") == []


# --- idempotency and look-first ---------------------------------------------------------------


def test_quickbooks_repeated_create_replays_same_requestid_and_leaves_one_template(
    qbo: Harness,
) -> None:
    adapter = qbo.adapter()
    first = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)
    second = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    posts = qbo.posts("/recurringtransaction")
    assert len(posts) == 2
    assert posts[0].query["requestid"] == posts[1].query["requestid"]
    assert len(posts[0].query["requestid"][-1]) <= 50
    assert first == second
    assert len(qbo.fake.recurring) == 1
    assert len(qbo.fake.customers) == 1


def test_quickbooks_lost_reply_is_retried_with_same_requestid_and_creates_one_invoice(
    qbo: Harness,
) -> None:
    qbo.fake.lose_reply_once("POST", "/invoice")

    record = qbo.adapter().create_billing_setup(
        make_brief("one_off"), idempotency_key=KEY, look_first=False
    )

    posts = qbo.posts("/invoice")
    assert len(posts) == 2
    assert posts[0].query["requestid"] == posts[1].query["requestid"]
    assert list(qbo.fake.invoices) == [record.external_id]


def test_quickbooks_look_first_reuses_invoices_carrying_the_marker(qbo: Harness) -> None:
    adapter = qbo.adapter()
    # An earlier attempt (another key) got as far as the first milestone's invoice.
    earlier = make_brief("milestones", milestones=MILESTONES[:1])
    first = adapter.create_billing_setup(earlier, idempotency_key="attempt-1", look_first=False)

    record = adapter.create_billing_setup(
        make_brief("milestones"), idempotency_key="attempt-2", look_first=True
    )

    assert record.external_id == first.external_id
    assert len(qbo.fake.invoices) == 3
    assert len(qbo.posts("/invoice")) == 3
    assert any("from Invoice where CustomerRef" in q for q in qbo.queries())


def test_quickbooks_look_first_finds_existing_recurring_template(qbo: Harness) -> None:
    adapter = qbo.adapter()
    first = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    again = adapter.create_billing_setup(make_brief(), idempotency_key="other-key", look_first=True)

    assert again.external_id == first.external_id
    assert len(qbo.posts("/recurringtransaction")) == 1


# --- vendor trouble ---------------------------------------------------------------------------


def test_quickbooks_rate_limit_honours_retry_after(qbo: Harness) -> None:
    qbo.fake.fail("POST", "/recurringtransaction", Reply(429, {}, headers={"Retry-After": "2"}))

    qbo.adapter().create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    assert len(qbo.sleeps) == 1
    assert 2.0 <= qbo.sleeps[0] <= 2.25
    assert len(qbo.fake.recurring) == 1


def test_quickbooks_service_unavailable_burst_then_success(qbo: Harness) -> None:
    down = Reply(503, {"Fault": {"Error": [{"Message": "Service down"}], "type": "SystemFault"}})
    qbo.fake.fail("POST", "/recurringtransaction", down, down)

    qbo.adapter().create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    posts = qbo.posts("/recurringtransaction")
    assert len(posts) == 3
    assert len({p.query["requestid"][-1] for p in posts}) == 1
    assert len(qbo.sleeps) == 2
    assert len(qbo.fake.recurring) == 1


def test_quickbooks_validation_fault_names_the_field_in_vendor_words(qbo: Harness) -> None:
    fault = {
        "Fault": {
            "Error": [
                {
                    "Message": "Invalid Reference Id",
                    "Detail": "Invalid Reference Id : Item assigned to this line is inactive",
                    "code": "2500",
                    "element": "Line.SalesItemLineDetail.ItemRef",
                }
            ],
            "type": "ValidationFault",
        }
    }
    qbo.fake.fail("POST", "/invoice", Reply(400, fault))

    with pytest.raises(VendorRejected) as raised:
        qbo.adapter().create_billing_setup(
            make_brief("one_off"), idempotency_key=KEY, look_first=False
        )

    assert raised.value.field == "Line.SalesItemLineDetail.ItemRef"
    assert "ValidationFault" in raised.value.message
    assert "Item assigned to this line is inactive" in raised.value.message
    assert len(qbo.posts("/invoice")) == 1  # a rejection is not retried


def test_quickbooks_unauthorised_refreshes_token_once_and_retries(qbo: Harness) -> None:
    qbo.fake.tokens.valid_access.discard("access-0")  # the stored access token was revoked

    qbo.adapter().create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    assert len(qbo.fake.tokens.calls) == 1
    saved = qbo.store.load("quickbooks", REALM)
    assert saved is not None
    assert saved.refresh_token == "refresh-1"
    assert len(qbo.fake.recurring) == 1


# --- rules and notes --------------------------------------------------------------------------


def test_quickbooks_recurring_without_term_mapping_is_rejected_before_any_call(
    qbo: Harness,
) -> None:
    with pytest.raises(VendorRejected) as raised:
        qbo.adapter(term_refs={}).create_billing_setup(
            make_brief(), idempotency_key=KEY, look_first=False
        )

    assert raised.value.field == "SalesTermRef"
    assert qbo.server.requests == []


def test_quickbooks_schedule_that_would_bill_a_different_count_is_rejected(qbo: Harness) -> None:
    brief = make_brief("monthly", first_invoice_date=utc(2027, 2, 1).date())

    with pytest.raises(VendorRejected, match="makes 11 invoices") as raised:
        qbo.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    assert raised.value.field == "first_invoice_date"
    assert qbo.server.requests == []


def test_quickbooks_add_note_returns_none(qbo: Harness) -> None:
    adapter = qbo.adapter()
    record = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)
    before = len(qbo.server.requests)
    comment = ThreadComment(marker="1700.1", author="Jane", posted_at=utc(2027, 1, 5), text="Hi")

    assert adapter.add_note(record, comment, idempotency_key="note-1") is None
    assert len(qbo.server.requests) == before


def test_quickbooks_registry_builds_the_adapter(qbo: Harness) -> None:
    ctx = VendorContext(env={}, token_store=qbo.store)
    settings = {"realm_id": REALM, "item_ref": "7"}

    assert build_finance("quickbooks", settings, ctx).vendor == "quickbooks"


def test_qbo_schema_check_rejects_fields_outside_the_xsd() -> None:
    errors = qbo_body_errors(
        "Invoice",
        {
            "CustomerRef": {"value": "1", "nme": "typo"},
            "Lines": [],
            "TxnDate": "01/02/2027",
            "Line": [{"DetailType": "NotADetail", "Amount": 1.0}],
        },
    )

    assert len(errors) == 4
    assert any("Invoice.Lines" in e for e in errors)
    assert any("CustomerRef.nme" in e for e in errors)
    assert any("TxnDate" in e for e in errors)
    assert any("DetailType" in e for e in errors)


@pytest.mark.parametrize("schedule", ["monthly", "milestones"])
def test_quickbooks_look_first_ignores_a_marker_quoted_in_another_handoffs_text(
    qbo: Harness, schedule: BillingSchedule
) -> None:
    adapter = qbo.adapter()
    # Handoff 43's form quotes handoff 42's tag in its conditions; same customer, too.
    quoting = make_brief(schedule, conditions="Same terms as before (ref handoff-42/1)")
    quoting = quoting.model_copy(update={"handoff_id": 43, "marker": "handoff-43"})
    other = adapter.create_billing_setup(quoting, idempotency_key="h43", look_first=False)
    # Another customer's document carrying 42's exact first line is not 42's either.
    elsewhere = make_brief(schedule, account_name="Globex Ltd")
    stray = adapter.create_billing_setup(elsewhere, idempotency_key="globex", look_first=False)

    record = adapter.create_billing_setup(
        make_brief(schedule), idempotency_key="h42", look_first=True
    )

    earlier = {other.external_id, *other.extra_ids, stray.external_id, *stray.extra_ids}
    assert earlier.isdisjoint({record.external_id, *record.extra_ids})


def test_quickbooks_uneven_split_is_a_template_and_one_invoice_for_the_last_instalment(
    qbo: Harness,
) -> None:
    adapter = qbo.adapter()
    brief = make_brief("monthly", contract_value=Decimal("10000.00"))

    record = adapter.create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [template_post] = qbo.posts("/recurringtransaction")
    [invoice_post] = qbo.posts("/invoice")
    template = template_post.json["Invoice"]
    assert '"Amount":833.33' in raw(template_post)
    schedule = template["RecurringInfo"]["ScheduleInfo"]
    assert (schedule["StartDate"], schedule["EndDate"], schedule["DayOfMonth"]) == (
        "2027-01-01",
        "2027-11-01",
        1,
    )
    assert '"Amount":833.37' in raw(invoice_post)
    assert (invoice_post.json["TxnDate"], invoice_post.json["DueDate"]) == (
        "2027-12-01",
        "2027-12-31",
    )
    assert "(ref handoff-42/2)" in invoice_post.json["PrivateNote"]
    assert "11 x 833.33 and the last 833.37 (separate invoice" in template["PrivateNote"]
    assert record.kind == "recurring_invoice"
    assert record.external_id in qbo.fake.recurring
    assert record.extra_ids == (next(iter(qbo.fake.invoices)),)

    again = adapter.create_billing_setup(brief, idempotency_key="other-key", look_first=True)

    assert (again.external_id, again.extra_ids) == (record.external_id, record.extra_ids)
    assert (len(qbo.posts("/recurringtransaction")), len(qbo.posts("/invoice"))) == (1, 1)


# --- finance fidelity -------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["one_off", "monthly", "quarterly", "milestones"])
def test_quickbooks_every_billing_field_is_readable_on_every_document(
    qbo: Harness, schedule: BillingSchedule
) -> None:
    brief = traceable_brief(schedule)

    qbo.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [customer] = qbo.fake.customers.values()
    documents = [*qbo.fake.invoices.values(), *qbo.fake.recurring.values()]
    assert len(documents) == (3 if schedule == "milestones" else 1)
    for document in documents:
        assert missing_fields(brief, strings(document)) == []
        assert "Includes the agreed discount of GBP 3,600.00" in document["CustomerMemo"]["value"]
        assert document["BillAddr"]["Line1"] == "Unit 4, Quayside Works"
    assert customer["CompanyName"] == "Acme Widgets Trading Company Ltd"
    assert customer["BillAddr"]["Line3"] == "Bristol BS1 6AA"
    assert "GB-VAT-987654321" in customer["Notes"]


# What each schedule's document itemises for TRACEABLE_LINES: (description, Qty, UnitPrice) per
# sales line, then the discount line's amount, and what the document bills in all.
SHARE = "; billed in {n} {schedule} instalments)"
ITEMISED = {
    "one_off": (
        [
            ("Analytics licence, three warehouses", 10, "1250.00"),
            ("Onboarding workshop for the ops team", 1, "3600.00"),
        ],
        "3600.00",
        "12500.00",
    ),
    "monthly": (
        [
            (
                "Analytics licence, three warehouses (sold as 12 x GBP 3,000.00 less "
                "GBP 3,600.00" + SHARE.format(n=12, schedule="monthly"),
                12,
                "250.00",
            ),
            (
                "Onboarding workshop for the ops team (sold as 1 x GBP 3,600.00"
                + SHARE.format(n=12, schedule="monthly"),
                1,
                "300.00",
            ),
        ],
        "300.00",
        "3000.00",
    ),
    "quarterly": (
        [
            (
                "Analytics licence, three warehouses (sold as 12 x GBP 3,000.00 less "
                "GBP 3,600.00" + SHARE.format(n=4, schedule="quarterly"),
                12,
                "750.00",
            ),
            (
                "Onboarding workshop for the ops team (sold as 1 x GBP 3,600.00"
                + SHARE.format(n=4, schedule="quarterly"),
                1,
                "900.00",
            ),
        ],
        "900.00",
        "9000.00",
    ),
}


def wire(rec: Recorded) -> dict[str, Any]:
    """The invoice (or template's invoice) as QBO parses it, amounts as Decimals."""
    body: dict[str, Any] = json.loads(rec.body, parse_float=Decimal)
    invoice: dict[str, Any] = body.get("Invoice", body)
    return invoice


@pytest.mark.parametrize("schedule", ["one_off", "monthly", "quarterly"])
def test_quickbooks_lines_as_sold_are_the_invoice_lines_with_a_discount_line(
    qbo: Harness, schedule: BillingSchedule
) -> None:
    brief = traceable_brief(schedule)

    qbo.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [post] = [*qbo.posts("/invoice"), *qbo.posts("/recurringtransaction")]
    document = wire(post)
    *sales, discount = document["Line"]
    expected, discount_amount, billed = ITEMISED[schedule]
    assert [
        (
            line["Description"],
            line["SalesItemLineDetail"]["Qty"],
            line["SalesItemLineDetail"]["UnitPrice"],
        )
        for line in sales
    ] == [(text, qty, Decimal(price)) for text, qty, price in expected]
    assert discount == {
        "DetailType": "DiscountLineDetail",
        "Amount": Decimal(discount_amount),
        "Description": "Agreed discount",
        "DiscountLineDetail": {"PercentBased": False},
    }
    # Never a different total than agreed: the lines bill exactly the plan's amount.
    assert qbo_total(document) == Decimal(billed)


def test_quickbooks_quantities_are_sent_as_sold_whole_or_fractional(qbo: Harness) -> None:
    days = SoldLine(description="Consulting", quantity=Decimal("1.5"), unit_price=Decimal(1000))
    licence = SoldLine(description="Licence", quantity=Decimal(1), unit_price=Decimal(11000))
    brief = make_brief("one_off", lines=(days, licence))

    qbo.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [post] = qbo.posts("/invoice")
    assert '"Qty":1.50,"UnitPrice":1000.00' in raw(post)
    assert '"Qty":1,"UnitPrice":11000.00' in raw(post)
    assert qbo_total(wire(post)) == Decimal("12500.00")


def test_quickbooks_milestones_bill_one_line_each_and_state_the_discount(qbo: Harness) -> None:
    brief = traceable_brief("milestones")

    qbo.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    for post, milestone in zip(qbo.posts("/invoice"), MILESTONES, strict=True):
        [line] = post.json["Line"]
        assert (line["Description"], line["Amount"]) == (milestone.description, milestone.amount)
        assert "Includes the agreed discount of GBP 3,600.00." in post.json["CustomerMemo"]["value"]
        assert "Lines as sold: 12 x Analytics licence" in post.json["PrivateNote"]


@pytest.mark.parametrize(
    ("schedule", "description", "price", "discount"),
    [
        ("one_off", "Acme rollout", "16100.00", "3600.00"),
        ("monthly", "Acme rollout: monthly instalment", "3300.00", "300.00"),
    ],
)
def test_quickbooks_discount_without_lines_is_a_list_price_line_less_a_discount_line(
    qbo: Harness, schedule: BillingSchedule, description: str, price: str, discount: str
) -> None:
    brief = traceable_brief(schedule, with_lines=False)

    qbo.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [post] = [*qbo.posts("/invoice"), *qbo.posts("/recurringtransaction")]
    document = wire(post)
    [sale, discount_line] = document["Line"]
    detail = sale["SalesItemLineDetail"]
    assert (sale["Description"], detail["Qty"], detail["UnitPrice"]) == (
        description,
        1,
        Decimal(price),
    )
    assert (discount_line["DetailType"], discount_line["Amount"]) == (
        "DiscountLineDetail",
        Decimal(discount),
    )
    assert qbo_total(document) == Decimal(price) - Decimal(discount)


def test_quickbooks_estimated_models_remind_finance_instead_of_sending(qbo: Harness) -> None:
    brief = make_brief(
        "monthly", billing_model="time_and_materials", model_terms="Consultant: GBP 900 a day"
    )

    qbo.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [template] = qbo.fake.recurring.values()
    info = template["RecurringInfo"]
    assert info["RecurType"] == "Reminded"
    assert info["ScheduleInfo"]["RemindDays"] == quickbooks.REMIND_DAYS
    note = template["PrivateNote"]
    assert "Billing model: time and materials" in note
    assert "Model terms: Consultant: GBP 900 a day" in note
    assert "ACTION FOR FINANCE: the amounts set up here are estimates" in note
