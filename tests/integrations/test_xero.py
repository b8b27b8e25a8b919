"""XeroFinance against a loopback Xero organisation; every request is checked against the spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from integrations import xero
from integrations.ports import (
    BillingSchedule,
    CreatedRecord,
    SoldLine,
    ThreadComment,
    VendorRejected,
)
from integrations.registry import VendorContext
from tests.integrations.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    MILESTONES,
    TRACEABLE_LINES,
    XERO_PREFIX,
    XERO_TOKEN_PATH,
    FakeXero,
    InMemoryTokenStore,
    Sleeps,
    Warnings,
    history_text,
    make_brief,
    missing_fields,
    stored_token,
    strings,
    traceable_brief,
    utc,
    xero_total,
)
from tests.support.openapi_check import assert_matches_spec
from tests.support.stub_server import Recorded, Reply, StubServer

SPEC = "xero/xero_accounting.subset.yaml"
KEY = "handoff-42:finance:1"


@dataclass
class Harness:
    fake: FakeXero
    server: StubServer
    store: InMemoryTokenStore
    sleeps: Sleeps
    warnings: Warnings

    def adapter(self, **settings: Any) -> xero.XeroFinance:
        ctx = VendorContext(
            env={"XERO_CLIENT_ID": CLIENT_ID, "XERO_CLIENT_SECRET": CLIENT_SECRET},
            token_store=self.store,
            sleep=self.sleeps,
            warn_admin=self.warnings,
        )
        base = {
            "tenant_id": self.fake.tenant_id,
            "account_code": "200",
            "base_url": self.server.url + XERO_PREFIX,
            "token_url": self.server.url + XERO_TOKEN_PATH,
        }
        return xero.build({**base, **settings}, ctx)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return self.server.calls(method, XERO_PREFIX + path)


@pytest.fixture
def xro() -> Iterator[Harness]:
    """A Xero stand-in; afterwards, every API request the adapter sent must match Xero's spec."""
    fake = FakeXero()
    store = InMemoryTokenStore()
    store.save("xero", fake.tenant_id, stored_token())
    with StubServer(fake.handle) as server:
        yield Harness(fake, server, store, Sleeps(), Warnings())
        for rec in server.requests:
            if rec.path.startswith(XERO_PREFIX):
                assert_matches_spec(SPEC, rec, strip_prefix=XERO_PREFIX)


def raw(rec: Recorded) -> str:
    return rec.body.decode()


def only(rec: Recorded, collection: str) -> dict[str, Any]:
    [item] = rec.json[collection]
    return dict(item)


# --- schedules --------------------------------------------------------------------------------


def test_xero_monthly_creates_repeating_invoice_for_the_agreed_instalments(xro: Harness) -> None:
    record = xro.adapter().create_billing_setup(
        make_brief("monthly"), idempotency_key=KEY, look_first=False
    )

    [put] = xro.calls("PUT", "/RepeatingInvoices")
    body = only(put, "RepeatingInvoices")
    assert '"UnitAmount":3000.00' in raw(put)
    assert body["Schedule"] == {
        "Period": 1,
        "Unit": "MONTHLY",
        "DueDate": 30,
        "DueDateType": "DAYSAFTERBILLDATE",
        "StartDate": "2027-01-01",
        "EndDate": "2027-12-01",
    }
    assert body["Type"] == "ACCREC"
    assert body["Status"] == "DRAFT"
    assert body["CurrencyCode"] == "GBP"
    assert body["Reference"] == "PO-7781"
    assert body["LineAmountTypes"] == "Exclusive"
    assert (
        body["LineItems"][0]["Description"] == "Acme rollout: monthly instalment (ref handoff-42/1)"
    )
    assert body["LineItems"][0]["AccountCode"] == "200"
    assert put.header("Idempotency-Key") == f"{KEY}:RepeatingInvoices:1"
    assert record.kind == "repeating_invoice"
    assert record.external_id in xro.fake.repeating


def test_xero_repeating_invoice_record_links_to_its_page_in_xero(xro: Harness) -> None:
    record = xro.adapter().create_billing_setup(
        make_brief("monthly"), idempotency_key=KEY, look_first=False
    )

    assert record.url == (
        f"https://go.xero.com/RepeatTransactions/Edit.aspx?invoiceID={record.external_id}"
    )


def test_xero_records_have_no_link_without_an_app_url(xro: Harness) -> None:
    for schedule in ("monthly", "one_off"):
        record = xro.adapter(app_url=None).create_billing_setup(
            make_brief(schedule), idempotency_key=f"{KEY}-{schedule}", look_first=False
        )
        assert record.url is None


def test_xero_monthly_records_terms_and_links_in_history(xro: Harness) -> None:
    record = xro.adapter().create_billing_setup(
        make_brief("monthly"), idempotency_key=KEY, look_first=False
    )

    notes = " ".join(h["Details"] for h in xro.fake.history[record.external_id])
    assert "GBP 36,000.00 monthly from 2027-01-01 to 2027-12-31: 12 x 3,000.00" in notes
    assert "Billing conditions: Invoice only after the kickoff call" in notes
    assert all(len(h["Details"]) <= 250 for h in xro.fake.history[record.external_id])


def test_xero_quarterly_repeats_every_three_months(xro: Harness) -> None:
    xro.adapter().create_billing_setup(
        make_brief("quarterly"), idempotency_key=KEY, look_first=False
    )

    [put] = xro.calls("PUT", "/RepeatingInvoices")
    schedule = only(put, "RepeatingInvoices")["Schedule"]
    assert (schedule["Period"], schedule["Unit"]) == (3, "MONTHLY")
    assert (schedule["StartDate"], schedule["EndDate"]) == ("2027-01-01", "2027-10-01")
    assert '"UnitAmount":9000.00' in raw(put)


def test_xero_authorised_status_comes_from_config(xro: Harness) -> None:
    xro.adapter(repeating_status="AUTHORISED").create_billing_setup(
        make_brief(), idempotency_key=KEY, look_first=False
    )

    [put] = xro.calls("PUT", "/RepeatingInvoices")
    assert only(put, "RepeatingInvoices")["Status"] == "AUTHORISED"


def test_xero_one_off_creates_one_draft_invoice(xro: Harness) -> None:
    record = xro.adapter().create_billing_setup(
        make_brief("one_off"), idempotency_key=KEY, look_first=False
    )

    [put] = xro.calls("PUT", "/Invoices")
    body = only(put, "Invoices")
    assert '"UnitAmount":12500.00' in raw(put)
    assert (body["Date"], body["DueDate"]) == ("2027-02-15", "2027-03-17")
    assert (body["Type"], body["Status"], body["CurrencyCode"]) == ("ACCREC", "DRAFT", "GBP")
    assert body["Reference"] == "PO-7781"
    assert record.kind == "invoice"
    assert record.url == (
        f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={record.external_id}"
    )
    assert xro.calls("PUT", f"/RepeatingInvoices/{record.external_id}/History") == []


def test_xero_milestones_create_one_invoice_per_milestone(xro: Harness) -> None:
    record = xro.adapter().create_billing_setup(
        make_brief("milestones"), idempotency_key=KEY, look_first=False
    )

    puts = xro.calls("PUT", "/Invoices")
    bodies = [only(p, "Invoices") for p in puts]
    assert [b["DueDate"] for b in bodies] == ["2027-02-28", "2027-05-31", "2027-09-30"]
    assert [b["Date"] for b in bodies] == ["2027-01-01"] * 3
    amounts = ['"UnitAmount":10000.00', '"UnitAmount":15000.00', '"UnitAmount":11000.50']
    assert all(amount in raw(p) for amount, p in zip(amounts, puts, strict=True))
    assert [p.header("Idempotency-Key") for p in puts] == [
        f"{KEY}:Invoices:1",
        f"{KEY}:Invoices:2",
        f"{KEY}:Invoices:3",
    ]
    assert len(record.extra_ids) == 2
    assert len(xro.fake.invoices) == 3


# --- contact ----------------------------------------------------------------------------------


def test_xero_creates_contact_with_billing_person(xro: Harness) -> None:
    brief = make_brief("one_off")
    finance = brief.contacts[1].model_copy(
        update={"name": "Li Wei", "role": "Finance manager", "email": "li@acme.example"}
    )
    brief = brief.model_copy(update={"contacts": (*brief.contacts, finance)})

    xro.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [put] = xro.calls("PUT", "/Contacts")
    contact = only(put, "Contacts")
    assert contact["Name"] == "Acme Widgets Ltd"
    assert contact["EmailAddress"] == "ap@acme.example"
    assert (contact["FirstName"], contact["LastName"]) == ("Jane", "Doe")
    assert contact["DefaultCurrency"] == "GBP"
    assert contact["TaxNumber"] == "GB123456789"
    assert contact["ContactPersons"] == [
        {
            "FirstName": "Li",
            "LastName": "Wei",
            "EmailAddress": "li@acme.example",
            "IncludeInEmails": True,
        }
    ]
    assert put.header("Idempotency-Key") == f"{KEY}:contact:0"
    [invoice] = xro.calls("PUT", "/Invoices")
    assert only(invoice, "Invoices")["Contact"] == {"ContactID": next(iter(xro.fake.contacts))}


def test_xero_finds_contact_by_exact_name(xro: Harness) -> None:
    xro.fake.add_contact("Acme Widgets Ltd (old)")
    contact_id = xro.fake.add_contact("ACME Widgets Ltd")

    xro.adapter().create_billing_setup(make_brief("one_off"), idempotency_key=KEY, look_first=False)

    [search] = xro.calls("GET", "/Contacts")
    assert search.query["searchTerm"] == ["Acme Widgets Ltd"]
    assert xro.calls("PUT", "/Contacts") == []
    [invoice] = xro.calls("PUT", "/Invoices")
    assert only(invoice, "Invoices")["Contact"] == {"ContactID": contact_id}


# --- idempotency and look-first ---------------------------------------------------------------


def test_xero_repeated_create_replays_idempotency_key_and_leaves_one_repeating_invoice(
    xro: Harness,
) -> None:
    adapter = xro.adapter()
    first = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)
    second = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    puts = xro.calls("PUT", "/RepeatingInvoices")
    assert [p.header("Idempotency-Key") for p in puts] == [f"{KEY}:RepeatingInvoices:1"] * 2
    assert first == second
    assert len(xro.fake.repeating) == 1
    assert len(xro.fake.contacts) == 1


def test_xero_lost_reply_is_retried_with_same_key_and_creates_one_invoice(xro: Harness) -> None:
    xro.fake.lose_reply_once("PUT", "/Invoices")

    record = xro.adapter().create_billing_setup(
        make_brief("one_off"), idempotency_key=KEY, look_first=False
    )

    puts = xro.calls("PUT", "/Invoices")
    assert len(puts) == 2
    assert puts[0].header("Idempotency-Key") == puts[1].header("Idempotency-Key")
    assert list(xro.fake.invoices) == [record.external_id]


def test_xero_look_first_reuses_invoices_carrying_the_marker(xro: Harness) -> None:
    adapter = xro.adapter()
    earlier = make_brief("milestones", milestones=MILESTONES[:1])
    first = adapter.create_billing_setup(earlier, idempotency_key="attempt-1", look_first=False)

    record = adapter.create_billing_setup(
        make_brief("milestones"), idempotency_key="attempt-2", look_first=True
    )

    assert record.external_id == first.external_id
    assert len(xro.fake.invoices) == 3
    [listing] = xro.calls("GET", "/Invoices")
    assert listing.query["page"] == ["1"]


def test_xero_look_first_finds_existing_repeating_invoice(xro: Harness) -> None:
    adapter = xro.adapter()
    first = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    again = adapter.create_billing_setup(make_brief(), idempotency_key="other", look_first=True)

    assert again.external_id == first.external_id
    assert len(xro.calls("PUT", "/RepeatingInvoices")) == 1


def test_xero_long_idempotency_key_is_hashed_to_fit(xro: Harness) -> None:
    xro.adapter().create_billing_setup(
        make_brief("one_off"), idempotency_key="k" * 200, look_first=False
    )

    [put] = xro.calls("PUT", "/Invoices")
    assert len(put.header("Idempotency-Key") or "") <= 128


# --- vendor trouble ---------------------------------------------------------------------------


def test_xero_rate_limit_honours_retry_after(xro: Harness) -> None:
    xro.fake.fail("PUT", "/RepeatingInvoices", Reply(429, {}, headers={"Retry-After": "2"}))

    xro.adapter().create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    assert len(xro.sleeps) == 1
    assert 2.0 <= xro.sleeps[0] <= 2.25
    assert len(xro.fake.repeating) == 1


def test_xero_service_unavailable_burst_then_success(xro: Harness) -> None:
    down = Reply(503, {"Title": "Service Unavailable"})
    xro.fake.fail("PUT", "/Invoices", down, down)

    xro.adapter().create_billing_setup(make_brief("one_off"), idempotency_key=KEY, look_first=False)

    puts = xro.calls("PUT", "/Invoices")
    assert len(puts) == 3
    assert len({p.header("Idempotency-Key") for p in puts}) == 1
    assert len(xro.sleeps) == 2
    assert len(xro.fake.invoices) == 1


def test_xero_validation_error_is_rejected_in_vendor_words(xro: Harness) -> None:
    error = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [
            {"ValidationErrors": [{"Message": "Account code '200' is not a valid code."}]}
        ],
    }
    xro.fake.fail("PUT", "/Invoices", Reply(400, error))

    with pytest.raises(VendorRejected) as raised:
        xro.adapter().create_billing_setup(
            make_brief("one_off"), idempotency_key=KEY, look_first=False
        )

    assert "ValidationException" in raised.value.message
    assert "Account code '200' is not a valid code." in raised.value.message
    assert len(xro.calls("PUT", "/Invoices")) == 1


def test_xero_unauthorised_refreshes_token_once_and_retries(xro: Harness) -> None:
    xro.fake.tokens.valid_access.discard("access-0")

    xro.adapter().create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)

    assert len(xro.fake.tokens.calls) == 1
    saved = xro.store.load("xero", xro.fake.tenant_id)
    assert saved is not None
    assert saved.refresh_token == "refresh-1"
    assert saved.refresh_expires_at is not None  # Xero's 60 days, from config
    assert len(xro.fake.repeating) == 1


# --- notes ------------------------------------------------------------------------------------


def test_xero_add_note_writes_author_and_time_to_repeating_invoice_history(xro: Harness) -> None:
    adapter = xro.adapter()
    record = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)
    comment = ThreadComment(
        marker="1700000000.000200", author="Jane Doe", posted_at=utc(2027, 1, 5, 10), text="PO?"
    )

    result = adapter.add_note(record, comment, idempotency_key="note-7")

    context, put = xro.calls("PUT", f"/RepeatingInvoices/{record.external_id}/History")
    assert put.json == {"HistoryRecords": [{"Details": "Jane Doe (2027-01-05T10:00+00:00): PO?"}]}
    assert put.header("Idempotency-Key") == "note-7:note:0"
    assert context.header("Idempotency-Key") == f"{KEY}:context:0"
    assert result == "1700000000.000200"


def test_xero_add_note_splits_long_text_into_history_records(xro: Harness) -> None:
    adapter = xro.adapter()
    record = adapter.create_billing_setup(make_brief(), idempotency_key=KEY, look_first=False)
    comment = ThreadComment(marker="m", author="Sam", posted_at=utc(2027, 1, 5), text="x" * 600)

    adapter.add_note(record, comment, idempotency_key="note-8")

    _context, put = xro.calls("PUT", f"/RepeatingInvoices/{record.external_id}/History")
    details = [h["Details"] for h in put.json["HistoryRecords"]]
    assert len(details) == 3
    assert all(len(d) <= 250 for d in details)
    assert details[0].startswith("(1/3) Sam (")


def test_xero_add_note_on_plain_invoice_writes_invoice_history(xro: Harness) -> None:
    adapter = xro.adapter()
    record = adapter.create_billing_setup(
        make_brief("one_off"), idempotency_key=KEY, look_first=False
    )
    comment = ThreadComment(marker="m", author="Sam", posted_at=utc(2027, 1, 5), text="Hi")

    assert adapter.add_note(record, comment, idempotency_key="n") == "m"
    assert xro.fake.history[record.external_id][-1] == {
        "Details": "Sam (2027-01-05T00:00+00:00): Hi"
    }


def test_xero_add_note_on_other_records_returns_none(xro: Harness) -> None:
    record = CreatedRecord(vendor="xero", kind="contact", external_id="c-1")
    comment = ThreadComment(marker="m", author="Sam", posted_at=utc(2027, 1, 5), text="Hi")

    assert xro.adapter().add_note(record, comment, idempotency_key="n") is None
    assert xro.server.requests == []


def test_xero_look_first_ignores_a_marker_quoted_in_a_milestone_description(xro: Harness) -> None:
    adapter = xro.adapter()
    quoting = make_brief(
        "milestones",
        milestones=(
            MILESTONES[0].model_copy(update={"description": "Discovery (ref handoff-42/1) done"}),
            *MILESTONES[1:],
        ),
    ).model_copy(update={"handoff_id": 43, "marker": "handoff-43"})
    other = adapter.create_billing_setup(quoting, idempotency_key="h43", look_first=False)

    record = adapter.create_billing_setup(
        make_brief("milestones"), idempotency_key="h42", look_first=True
    )

    assert record.external_id != other.external_id
    assert len(xro.fake.invoices) == 6


def test_xero_look_first_ignores_a_marker_ending_a_later_lines_description(xro: Harness) -> None:
    adapter = xro.adapter()
    first, second = TRACEABLE_LINES["one_off"]
    quoting = traceable_brief("one_off").model_copy(
        update={"handoff_id": 43, "marker": "handoff-43"}
    )
    billing = quoting.billing
    assert billing is not None
    # Handoff 43's second line, typed in its form, ends with handoff 42's tag.
    named = second.model_copy(update={"description": "Workshop (ref handoff-42/1)"})
    quoting = quoting.model_copy(
        update={"billing": billing.model_copy(update={"lines": (first, named)})}
    )
    other = adapter.create_billing_setup(quoting, idempotency_key="h43", look_first=False)
    [_, line_two] = xro.fake.invoices[other.external_id]["LineItems"]
    assert line_two["Description"].endswith("(ref handoff-42/1)")

    record = adapter.create_billing_setup(
        traceable_brief("one_off"), idempotency_key="h42", look_first=True
    )

    assert record.external_id != other.external_id
    assert len(xro.fake.invoices) == 2


def test_xero_uneven_split_is_a_repeating_invoice_and_one_draft_for_the_remainder(
    xro: Harness,
) -> None:
    adapter = xro.adapter()
    brief = make_brief("monthly", contract_value=Decimal("10000.00"), remainder="first")

    record = adapter.create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [repeating_put] = xro.calls("PUT", "/RepeatingInvoices")
    [invoice_put] = xro.calls("PUT", "/Invoices")
    repeating = only(repeating_put, "RepeatingInvoices")
    assert '"UnitAmount":833.33' in raw(repeating_put)
    assert (repeating["Schedule"]["StartDate"], repeating["Schedule"]["EndDate"]) == (
        "2027-02-01",
        "2027-12-01",
    )
    invoice = only(invoice_put, "Invoices")
    assert '"UnitAmount":833.37' in raw(invoice_put)
    assert (invoice["Date"], invoice["DueDate"], invoice["Status"]) == (
        "2027-01-01",
        "2027-01-31",
        "DRAFT",
    )
    assert invoice["LineItems"][0]["Description"] == (
        "Acme rollout: monthly instalment 1 of 12 (ref handoff-42/2)"
    )
    assert record.kind == "repeating_invoice" and len(record.extra_ids) == 1

    again = adapter.create_billing_setup(brief, idempotency_key="other", look_first=True)

    assert (again.external_id, again.extra_ids) == (record.external_id, record.extra_ids)
    assert len(xro.calls("PUT", "/RepeatingInvoices")) == len(xro.calls("PUT", "/Invoices")) == 1


# --- finance fidelity -------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["one_off", "monthly", "quarterly", "milestones"])
def test_xero_every_billing_field_is_readable_on_every_document(
    xro: Harness, schedule: BillingSchedule
) -> None:
    brief = traceable_brief(schedule)

    xro.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [contact] = xro.fake.contacts.values()
    assert contact["TaxNumber"] == "GB-VAT-987654321"
    assert contact["Addresses"][0]["AddressLine3"] == "Bristol BS1 6AA"
    documents = {
        **{k: v for k, v in xro.fake.invoices.items()},
        **{k: v for k, v in xro.fake.repeating.items()},
    }
    assert len(documents) == (3 if schedule == "milestones" else 1)
    for document_id, document in documents.items():
        history = history_text(xro.fake.history[document_id])
        assert missing_fields(brief, [*strings(document), *history]) == []
        assert document["Reference"] == "PO-7781"
        assert all(len(h["Details"]) <= 250 for h in xro.fake.history[document_id])
        # The discount is on the lines, or (milestones) stated on the printed line.
        discounted = sum(
            Decimal(str(line.get("DiscountAmount", 0))) for line in document["LineItems"]
        )
        stated = "Includes the agreed discount of GBP 3,600.00" in strings(document["LineItems"])[0]
        assert (discounted > 0) != stated, document["LineItems"]
        assert stated == (schedule == "milestones")


# What each schedule's document itemises for TRACEABLE_LINES: (description, Quantity,
# UnitAmount, DiscountAmount) per line, and what the document bills in all.
SHARE = "; billed in {n} {schedule} instalments)"
ITEMISED: dict[str, tuple[list[tuple[str, int, str, str | None]], str]] = {
    "one_off": (
        [
            ("Analytics licence, three warehouses", 10, "1250.00", "3600.00"),
            ("Onboarding workshop for the ops team", 1, "3600.00", None),
        ],
        "12500.00",
    ),
    "monthly": (
        [
            (
                "Analytics licence, three warehouses (sold as 12 x GBP 3,000.00 less "
                "GBP 3,600.00" + SHARE.format(n=12, schedule="monthly"),
                12,
                "250.00",
                "300.00",
            ),
            (
                "Onboarding workshop for the ops team (sold as 1 x GBP 3,600.00"
                + SHARE.format(n=12, schedule="monthly"),
                1,
                "300.00",
                None,
            ),
        ],
        "3000.00",
    ),
    "quarterly": (
        [
            (
                "Analytics licence, three warehouses (sold as 12 x GBP 3,000.00 less "
                "GBP 3,600.00" + SHARE.format(n=4, schedule="quarterly"),
                12,
                "750.00",
                "900.00",
            ),
            (
                "Onboarding workshop for the ops team (sold as 1 x GBP 3,600.00"
                + SHARE.format(n=4, schedule="quarterly"),
                1,
                "900.00",
                None,
            ),
        ],
        "9000.00",
    ),
}


def wire(rec: Recorded) -> dict[str, Any]:
    """The one invoice or repeating invoice a PUT carries, amounts as Decimals."""
    body: dict[str, Any] = json.loads(rec.body, parse_float=Decimal)
    [document] = next(iter(body.values()))
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("schedule", ["one_off", "monthly", "quarterly"])
def test_xero_lines_as_sold_are_the_line_items_with_their_discounts(
    xro: Harness, schedule: BillingSchedule
) -> None:
    brief = traceable_brief(schedule)

    xro.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [put] = [*xro.calls("PUT", "/Invoices"), *xro.calls("PUT", "/RepeatingInvoices")]
    document = wire(put)
    expected, billed = ITEMISED[schedule]
    tag = " (ref handoff-42/1)"
    assert [
        (
            line["Description"],
            line["Quantity"],
            line["UnitAmount"],
            line.get("DiscountAmount"),
        )
        for line in document["LineItems"]
    ] == [
        (text + (tag if n == 0 else ""), qty, Decimal(price), discount and Decimal(discount))
        for n, (text, qty, price, discount) in enumerate(expected)
    ]
    # Never a different total than agreed: the lines bill exactly the plan's amount.
    assert xero_total(document) == Decimal(billed)


def test_xero_quantities_are_sent_as_sold_whole_or_fractional(xro: Harness) -> None:
    days = SoldLine(description="Consulting", quantity=Decimal("1.5"), unit_price=Decimal(1000))
    licence = SoldLine(description="Licence", quantity=Decimal(1), unit_price=Decimal(11000))
    brief = make_brief("one_off", lines=(days, licence))

    xro.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [put] = xro.calls("PUT", "/Invoices")
    assert '"Quantity":1.50,"UnitAmount":1000.00' in raw(put)
    assert '"Quantity":1,"UnitAmount":11000.00' in raw(put)
    assert xero_total(wire(put)) == Decimal("12500.00")


def test_xero_milestones_bill_one_line_each_and_state_the_discount(xro: Harness) -> None:
    brief = traceable_brief("milestones")

    xro.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    for put, milestone in zip(xro.calls("PUT", "/Invoices"), MILESTONES, strict=True):
        [line] = wire(put)["LineItems"]
        assert line["Description"].startswith(
            f"{milestone.description}. Includes the agreed discount of GBP 3,600.00 (ref "
        )
        assert (line["Quantity"], line["UnitAmount"]) == (1, milestone.amount)
        assert "DiscountAmount" not in line


@pytest.mark.parametrize(
    ("schedule", "description", "price", "discount"),
    [
        ("one_off", "Acme rollout", "16100.00", "3600.00"),
        ("monthly", "Acme rollout: monthly instalment", "3300.00", "300.00"),
    ],
)
def test_xero_discount_without_lines_is_a_list_price_line_less_its_discount(
    xro: Harness, schedule: BillingSchedule, description: str, price: str, discount: str
) -> None:
    brief = traceable_brief(schedule, with_lines=False)

    xro.adapter().create_billing_setup(brief, idempotency_key=KEY, look_first=False)

    [put] = [*xro.calls("PUT", "/Invoices"), *xro.calls("PUT", "/RepeatingInvoices")]
    [line] = wire(put)["LineItems"]
    assert line["Description"] == f"{description} (ref handoff-42/1)"
    assert (line["Quantity"], line["UnitAmount"], line["DiscountAmount"]) == (
        1,
        Decimal(price),
        Decimal(discount),
    )


def test_xero_estimated_models_stay_drafts_with_an_instruction(xro: Harness) -> None:
    brief = make_brief("monthly", billing_model="usage", model_terms="GBP 0.40 per order")

    record = xro.adapter(repeating_status="AUTHORISED").create_billing_setup(
        brief, idempotency_key=KEY, look_first=False
    )

    assert xro.fake.repeating[record.external_id]["Status"] == "DRAFT"
    history = history_text(xro.fake.history[record.external_id])
    assert "Model terms: GBP 0.40 per order" in history
    assert any(line.startswith("ACTION FOR FINANCE: the amounts") for line in history)
