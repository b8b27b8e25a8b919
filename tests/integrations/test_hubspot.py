"""HubSpot CRM adapter against a loopback stand-in that answers like HubSpot's CRM API."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from integrations.http import VendorHttp
from integrations.hubspot import HubSpotConfig, HubSpotCrm, build, parse_deal_reference
from integrations.ports import (
    Crm,
    DealContact,
    DealSnapshot,
    NotFound,
    OAuthToken,
    VendorOutcomeUnknown,
    VendorUnavailable,
)
from integrations.registry import VendorContext
from tests.support.stub_server import Recorded, Reply, StubServer

TOKEN = "pat-na1-test-0000"
PORTAL = "4471230"
DEAL_ID = "15873902345"

# --- test data: shapes as HubSpot's CRM v3/v4 responses ---------------------------------------

DEAL = {
    "id": DEAL_ID,
    "properties": {
        "amount": "48000.50",
        "closedate": "2026-03-31T15:04:05.123Z",
        "createdate": "2026-01-12T09:30:00.000Z",
        "deal_currency_code": "EUR",
        "dealname": "Acme Corp - Platform rollout",
        "dealstage": "closedwon",
        "hs_lastmodifieddate": "2026-03-31T15:04:06.001Z",
        "hs_object_id": DEAL_ID,
        "hubspot_owner_id": "73829104",
        "pipeline": "default",
    },
    "createdAt": "2026-01-12T09:30:00.000Z",
    "updatedAt": "2026-03-31T15:04:06.001Z",
    "archived": False,
    "associations": {
        "contacts": {
            "results": [
                {"id": "501", "type": "deal_to_contact"},
                {"id": "502", "type": "deal_to_contact"},
                {"id": "503", "type": "deal_to_contact"},
            ]
        },
        "companies": {
            "results": [
                {"id": "9001", "type": "deal_to_company"},
                {"id": "9001", "type": "deal_to_company_unlabeled"},
            ]
        },
    },
}

CONTACTS: dict[str, dict[str, Any]] = {
    "501": {
        "firstname": "Ana",
        "lastname": "Pereira",
        "email": "ana.pereira@acme.example",
        "phone": "+351 21 000 0000",
        "jobtitle": "Head of Operations",
    },
    "502": {
        "firstname": "Tom",
        "lastname": None,
        "email": "tom@acme.example",
        "phone": None,
        "jobtitle": None,
    },
    "503": {
        "firstname": "",
        "lastname": "",
        "email": "accounts@acme.example",
        "phone": "",
        "jobtitle": "Accounts payable",
    },
}

EXPECTED_SNAPSHOT = DealSnapshot(
    deal_id=DEAL_ID,
    name="Acme Corp - Platform rollout",
    stage="closedwon",
    pipeline="default",
    amount=Decimal("48000.50"),
    currency="EUR",
    close_date=date(2026, 3, 31),
    owner_id="73829104",
    company_name="Acme Corp",
    contacts=(
        DealContact(
            contact_id="501",
            name="Ana Pereira",
            email="ana.pereira@acme.example",
            phone="+351 21 000 0000",
            job_title="Head of Operations",
        ),
        DealContact(contact_id="502", name="Tom", email="tom@acme.example"),
        DealContact(
            contact_id="503",
            name="accounts@acme.example",
            email="accounts@acme.example",
            job_title="Accounts payable",
        ),
    ),
    url=f"https://app.hubspot.com/contacts/{PORTAL}/record/0-3/{DEAL_ID}",
)


def _error(status: int, category: str, message: str) -> Reply:
    """HubSpot's standard error body."""
    body = {
        "status": "error",
        "message": message,
        "correlationId": "3f1c2b9e-0000-4000-8000-000000000000",
        "category": category,
    }
    return Reply(status, body)


def _record(object_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": object_id,
        "properties": properties,
        "createdAt": "2026-01-12T09:30:00.000Z",
        "updatedAt": "2026-01-12T09:30:00.000Z",
        "archived": False,
    }


class FakeHubSpot:
    """Just enough of HubSpot's CRM API, with state, to exercise the adapter end to end."""

    def __init__(self) -> None:
        self.deals: dict[str, dict[str, Any]] = {DEAL_ID: DEAL}
        self.companies = {"9001": {"name": "Acme Corp", "domain": "acme.example"}}
        # v4 association labels: contact id -> labels, on the deal and on the company.
        self.labels: dict[str, dict[str, list[str]]] = {"deals": {}, "companies": {}}
        self.line_items: dict[str, dict[str, Any]] = {}
        self.owners = {"73829104": {"email": "sam.seller@vendor.example"}}
        self.notes: dict[str, str] = {}
        self.deal_notes: list[str] = []
        self.association_page_size = 500
        self.scripted: list[Reply] = []  # replies served before the normal routes
        self.fail_after_create: Reply | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("GET", re.compile(r"/crm/v3/objects/deals/(\d+)"), self._get_deal),
            ("PATCH", re.compile(r"/crm/v3/objects/deals/(\d+)"), self._patch_deal),
            ("GET", re.compile(r"/crm/v3/objects/companies/(\d+)"), self._get_company),
            (
                "POST",
                re.compile(r"/crm/v3/objects/(contacts|notes|line_items)/batch/read"),
                self._batch,
            ),
            (
                "GET",
                re.compile(r"/crm/v4/objects/(deals|companies)/(\d+)/associations/contacts"),
                self._contact_labels,
            ),
            ("GET", re.compile(r"/crm/v3/owners/(\d+)"), self._get_owner),
            ("GET", re.compile(r"/crm/v4/objects/deals/(\d+)/associations/notes"), self._assocs),
            ("POST", re.compile(r"/crm/v3/objects/notes"), self._create_note),
            ("PATCH", re.compile(r"/crm/v3/objects/notes/(\d+)"), self._patch_note),
        ]

    def __call__(self, request: Recorded) -> Reply:
        if self.scripted:
            return self.scripted.pop(0)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                return handler(request, *match.groups())
        return Reply(404, {"status": "error", "message": "no route", "category": "NOT_FOUND"})

    def _get_deal(self, request: Recorded, deal_id: str) -> Reply:
        deal = self.deals.get(deal_id)
        if deal is None:
            return _error(
                404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric."
            )
        return Reply(200, deal)

    def _patch_deal(self, request: Recorded, deal_id: str) -> Reply:
        if deal_id not in self.deals:
            return _error(404, "OBJECT_NOT_FOUND", "Object not found.")
        return Reply(200, _record(deal_id, request.json["properties"]))

    def _get_company(self, request: Recorded, company_id: str) -> Reply:
        company = self.companies[company_id]
        wanted = request.query.get("properties", [])
        return Reply(200, _record(company_id, {p: company.get(p) for p in wanted}))

    def _contact_labels(self, request: Recorded, object_type: str, object_id: str) -> Reply:
        if object_type == "deals":
            deal = self.deals[object_id]
            ids = [a["id"] for a in deal.get("associations", {}).get("contacts", {})["results"]]
        else:
            ids = list(self.labels["companies"])
        labels = self.labels[object_type]
        results = [
            {
                "toObjectId": int(contact_id),
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None},
                    *(
                        {"category": "USER_DEFINED", "typeId": 40 + n, "label": label}
                        for n, label in enumerate(labels.get(contact_id, []))
                    ),
                ],
            }
            for contact_id in dict.fromkeys(ids)
        ]
        return Reply(200, {"results": results})

    def _batch(self, request: Recorded, object_type: str) -> Reply:
        source: dict[str, dict[str, Any]] = {
            "contacts": CONTACTS,
            "line_items": self.line_items,
        }.get(object_type) or self._note_properties()
        ids = [item["id"] for item in request.json["inputs"]]
        found = [
            _record(i, {p: source[i].get(p) for p in request.json["properties"]})
            for i in reversed(ids)  # HubSpot does not promise input order
            if i in source
        ]
        return Reply(200, {"status": "COMPLETE", "results": found, "errors": []})

    def _note_properties(self) -> dict[str, dict[str, Any]]:
        return {note_id: {"hs_note_body": body} for note_id, body in self.notes.items()}

    def _get_owner(self, request: Recorded, owner_id: str) -> Reply:
        owner = self.owners.get(owner_id)
        if owner is None:
            return _error(404, "OBJECT_NOT_FOUND", "Owner not found")
        return Reply(200, {"id": owner_id, "email": owner["email"], "firstName": "Sam"})

    def _assocs(self, request: Recorded, deal_id: str) -> Reply:
        start = int(request.query.get("after", ["0"])[0])
        page = self.deal_notes[start : start + self.association_page_size]
        body: dict[str, Any] = {
            "results": [
                {
                    "toObjectId": int(note_id),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 214, "label": None}
                    ],
                }
                for note_id in page
            ]
        }
        end = start + len(page)
        if end < len(self.deal_notes):
            body["paging"] = {"next": {"after": str(end), "link": "ignored"}}
        return Reply(200, body)

    def _create_note(self, request: Recorded) -> Reply:
        note_id = str(80000 + len(self.notes))
        self.notes[note_id] = request.json["properties"]["hs_note_body"]
        self.deal_notes.append(note_id)
        if self.fail_after_create is not None:
            reply, self.fail_after_create = self.fail_after_create, None
            return reply
        return Reply(201, _record(note_id, request.json["properties"]))

    def _patch_note(self, request: Recorded, note_id: str) -> Reply:
        if note_id not in self.notes:
            return _error(404, "OBJECT_NOT_FOUND", "Object not found.")
        self.notes[note_id] = request.json["properties"]["hs_note_body"]
        return Reply(200, _record(note_id, request.json["properties"]))


class _NoTokens:
    """HubSpot uses a static private-app token, so the token store is never consulted."""

    def load(self, provider: str, account: str) -> OAuthToken | None:
        raise AssertionError("HubSpot must not use the token store")

    def save(self, provider: str, account: str, token: OAuthToken) -> None:
        raise AssertionError("HubSpot must not use the token store")

    def locked(self, provider: str, account: str) -> AbstractContextManager[None]:
        return nullcontext()


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot()


@pytest.fixture
def server(fake: FakeHubSpot) -> Iterator[StubServer]:
    with StubServer(fake) as stub:
        yield stub


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def crm(server: StubServer, sleeps: list[float]) -> HubSpotCrm:
    ctx = VendorContext(env={"HUBSPOT_TOKEN": TOKEN}, token_store=_NoTokens(), sleep=sleeps.append)
    return build({"base_url": server.url, "portal_id": int(PORTAL)}, ctx)


# --- get_deal -----------------------------------------------------------------------------------


def test_get_deal_maps_hubspot_records_to_snapshot(crm: HubSpotCrm) -> None:
    assert crm.get_deal(DEAL_ID) == EXPECTED_SNAPSHOT


def test_get_deal_requests_deal_contacts_and_company(crm: HubSpotCrm, server: StubServer) -> None:
    crm.get_deal(DEAL_ID)

    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", f"/crm/v3/objects/deals/{DEAL_ID}"),
        ("GET", "/crm/v3/objects/companies/9001"),
        ("GET", f"/crm/v4/objects/deals/{DEAL_ID}/associations/contacts"),
        ("GET", "/crm/v4/objects/companies/9001/associations/contacts"),
        ("POST", "/crm/v3/objects/contacts/batch/read"),
    ]
    deal, company, _deal_roles, _company_roles, contacts = server.requests
    assert deal.query == {
        "properties": [
            "dealname",
            "dealstage",
            "pipeline",
            "amount",
            "deal_currency_code",
            "closedate",
            "hubspot_owner_id",
        ],
        "associations": ["contacts", "companies", "line_items"],
    }
    assert company.query == {
        "properties": ["name", "address", "address2", "city", "state", "zip", "country"]
    }
    assert contacts.json == {
        "properties": ["firstname", "lastname", "email", "phone", "jobtitle"],
        "propertiesWithHistory": [],
        "inputs": [{"id": "501"}, {"id": "502"}, {"id": "503"}],
    }
    assert {r.header("Authorization") for r in server.requests} == {f"Bearer {TOKEN}"}


def test_get_deal_without_associations_or_values_gives_empty_snapshot(
    crm: HubSpotCrm, fake: FakeHubSpot, server: StubServer
) -> None:
    fake.deals["42"] = _record(
        "42",
        {"dealname": "Bare deal", "amount": "", "closedate": None, "deal_currency_code": None},
    )

    snapshot = crm.get_deal("42")

    assert snapshot == DealSnapshot(
        deal_id="42",
        name="Bare deal",
        url=f"https://app.hubspot.com/contacts/{PORTAL}/record/0-3/42",
    )
    assert [r.path for r in server.requests] == ["/crm/v3/objects/deals/42"]


@pytest.mark.parametrize(
    ("amount", "closedate", "expected_amount", "expected_date"),
    [
        ("1200", "2026-04-01T00:00:00Z", Decimal("1200"), date(2026, 4, 1)),
        ("99.9", "2026-04-01T23:30:00-02:00", Decimal("99.9"), date(2026, 4, 2)),
        ("NaN", "2026-04-01", None, date(2026, 4, 1)),
        ("twelve", "next week", None, None),
    ],
)
def test_get_deal_reads_amount_and_close_date(
    crm: HubSpotCrm,
    fake: FakeHubSpot,
    amount: str,
    closedate: str,
    expected_amount: Decimal | None,
    expected_date: date | None,
) -> None:
    fake.deals["43"] = _record("43", {"dealname": "D", "amount": amount, "closedate": closedate})

    snapshot = crm.get_deal("43")

    assert (snapshot.amount, snapshot.close_date) == (expected_amount, expected_date)


def test_get_deal_unknown_deal_raises_not_found(crm: HubSpotCrm) -> None:
    with pytest.raises(NotFound) as caught:
        crm.get_deal("999")
    assert caught.value.status == 404
    assert "OBJECT_NOT_FOUND" in caught.value.message


@pytest.mark.parametrize("deal_id", ["", "abc", "12/../owners/1", "0", "1 2"])
def test_get_deal_non_numeric_id_raises_not_found_without_calling(
    crm: HubSpotCrm, server: StubServer, deal_id: str
) -> None:
    with pytest.raises(NotFound):
        crm.get_deal(deal_id)
    assert server.requests == []


def test_get_deal_retries_429_after_the_delay_asked_for(
    crm: HubSpotCrm, fake: FakeHubSpot, server: StubServer, sleeps: list[float]
) -> None:
    fake.scripted.append(
        Reply(429, {"status": "error", "category": "RATE_LIMITS"}, {"Retry-After": "2"})
    )

    assert crm.get_deal(DEAL_ID) == EXPECTED_SNAPSHOT

    assert len(server.calls("GET", f"/crm/v3/objects/deals/{DEAL_ID}")) == 2
    assert len(sleeps) == 1
    assert 2.0 <= sleeps[0] <= 2.25  # Retry-After plus VendorHttp's jitter (at most backoff/2)


def test_get_deal_long_retry_after_goes_back_to_the_caller(
    crm: HubSpotCrm, fake: FakeHubSpot, sleeps: list[float]
) -> None:
    fake.scripted.append(Reply(429, {"category": "RATE_LIMITS"}, {"Retry-After": "60"}))

    with pytest.raises(VendorUnavailable) as caught:
        crm.get_deal(DEAL_ID)

    assert caught.value.retry_after == 60.0
    assert sleeps == []


def test_crm_satisfies_port(crm: HubSpotCrm) -> None:
    port: Crm = crm  # mypy checks the Protocol; the runtime check pins the vendor name
    assert port.vendor == "hubspot"


# --- move_deal_stage ----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["1f4f1ec1-8174-49f3-a112-4eaa4748e38e", "112233445"])
def test_move_deal_stage_sends_string_dealstage(
    crm: HubSpotCrm, server: StubServer, stage: str
) -> None:
    crm.move_deal_stage(DEAL_ID, stage)

    (call,) = server.calls("PATCH", f"/crm/v3/objects/deals/{DEAL_ID}")
    assert call.json == {"properties": {"dealstage": stage}}
    assert call.header("Authorization") == f"Bearer {TOKEN}"


def test_move_deal_stage_unknown_deal_raises_not_found(crm: HubSpotCrm) -> None:
    with pytest.raises(NotFound):
        crm.move_deal_stage("999", "closedwon")


# --- owner_email --------------------------------------------------------------------------------


def test_owner_email_returns_owner_email(crm: HubSpotCrm, server: StubServer) -> None:
    assert crm.owner_email("73829104") == "sam.seller@vendor.example"
    assert [r.path for r in server.requests] == ["/crm/v3/owners/73829104"]


def test_owner_email_unknown_owner_returns_none(crm: HubSpotCrm) -> None:
    assert crm.owner_email("404404") is None


def test_owner_email_non_numeric_owner_returns_none_without_calling(
    crm: HubSpotCrm, server: StubServer
) -> None:
    assert crm.owner_email("../deals/1") is None
    assert server.requests == []


# --- add_deal_note ------------------------------------------------------------------------------


def test_add_deal_note_twice_with_same_marker_creates_one_note(
    crm: HubSpotCrm, fake: FakeHubSpot, server: StubServer
) -> None:
    first = crm.add_deal_note(DEAL_ID, "<p>Handoff confirmed.</p>", "handoff-42")
    second = crm.add_deal_note(DEAL_ID, "<p>Handoff confirmed.</p>", "handoff-42")

    assert first == second
    assert first.vendor == "hubspot"
    assert first.kind == "note"
    assert first.url == EXPECTED_SNAPSHOT.url
    assert list(fake.notes) == [first.external_id]
    assert len(server.calls("POST", "/crm/v3/objects/notes")) == 1


def test_add_deal_note_posts_body_timestamp_and_deal_association(
    crm: HubSpotCrm, server: StubServer
) -> None:
    crm.add_deal_note(DEAL_ID, "<p>Scope: <b>rollout</b></p>", "handoff-42")

    (create,) = server.calls("POST", "/crm/v3/objects/notes")
    properties = create.json["properties"]
    assert properties["hs_note_body"] == "<p>Scope: <b>rollout</b></p><p>[ref: handoff-42]</p>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", properties["hs_timestamp"])
    assert create.json["associations"] == [
        {
            "to": {"id": DEAL_ID},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}],
        }
    ]


def test_add_deal_note_stamps_note_with_clock_time_in_utc(server: StubServer) -> None:
    fixed = datetime(2026, 4, 1, 11, 30, 5, 250000, tzinfo=timezone(timedelta(hours=2)))
    http = VendorHttp("hubspot", server.url, lambda: {"Authorization": f"Bearer {TOKEN}"})
    crm = HubSpotCrm(HubSpotConfig(base_url=server.url), http, clock=lambda: fixed)

    crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-7")

    (create,) = server.calls("POST", "/crm/v3/objects/notes")
    assert create.json["properties"]["hs_timestamp"] == "2026-04-01T09:30:05.250Z"


def test_add_deal_note_looks_for_marker_before_creating(
    crm: HubSpotCrm, server: StubServer
) -> None:
    crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-42")

    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", f"/crm/v4/objects/deals/{DEAL_ID}/associations/notes"),
        ("POST", "/crm/v3/objects/notes"),
    ]
    assert server.requests[0].query == {"limit": ["500"]}


def test_add_deal_note_similar_marker_is_a_different_note(
    crm: HubSpotCrm, fake: FakeHubSpot
) -> None:
    crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-42")
    crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-4")

    assert len(fake.notes) == 2


def test_add_deal_note_ignores_a_marker_quoted_in_another_notes_text(
    crm: HubSpotCrm, fake: FakeHubSpot
) -> None:
    # A later handoff of the same deal whose form text quotes the first handoff's tag.
    crm.add_deal_note(DEAL_ID, "<p>As agreed in [ref: handoff-42]</p>", "handoff-43")

    crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-42")

    assert len(fake.notes) == 2


def test_add_deal_note_finds_marker_on_a_later_association_page(
    crm: HubSpotCrm, fake: FakeHubSpot, server: StubServer
) -> None:
    fake.notes = {str(70000 + n): f"<p>call log {n}</p>" for n in range(5)}
    fake.notes["70005"] = "<p>old</p><p>[ref: handoff-42]</p>"
    fake.deal_notes = list(fake.notes)
    fake.association_page_size = 2

    record = crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-42")

    assert record.external_id == "70005"
    assert server.calls("POST", "/crm/v3/objects/notes") == []
    pages = server.calls("GET", f"/crm/v4/objects/deals/{DEAL_ID}/associations/notes")
    assert [p.query.get("after") for p in pages] == [None, ["2"], ["4"]]


def test_add_deal_note_retry_after_unknown_outcome_finds_created_note(
    crm: HubSpotCrm, fake: FakeHubSpot, server: StubServer
) -> None:
    fake.fail_after_create = _error(502, "BAD_GATEWAY", "upstream timed out")

    with pytest.raises(VendorOutcomeUnknown):
        crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-42")
    record = crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-42")

    assert list(fake.notes) == [record.external_id]
    assert len(server.calls("POST", "/crm/v3/objects/notes")) == 1


def test_add_deal_note_blank_marker_is_refused(crm: HubSpotCrm, server: StubServer) -> None:
    with pytest.raises(ValueError, match="marker"):
        crm.add_deal_note(DEAL_ID, "<p>x</p>", "  ")
    assert server.requests == []


def test_update_deal_note_rewrites_the_body_in_place_with_its_marker(
    crm: HubSpotCrm, fake: FakeHubSpot, server: StubServer
) -> None:
    note = crm.add_deal_note(DEAL_ID, "<p>Finance: failed</p>", "handoff-42")

    crm.update_deal_note(note.external_id, "<p>Finance: done</p>", "handoff-42")

    (patch,) = server.calls("PATCH", f"/crm/v3/objects/notes/{note.external_id}")
    body = "<p>Finance: done</p><p>[ref: handoff-42]</p>"
    assert patch.json == {"properties": {"hs_note_body": body}}
    assert list(fake.notes) == [note.external_id]
    assert fake.notes[note.external_id] == body
    # Found again by its marker after the update.
    assert crm.add_deal_note(DEAL_ID, "<p>x</p>", "handoff-42") == note


def test_update_deal_note_of_a_deleted_note_is_not_found(crm: HubSpotCrm) -> None:
    with pytest.raises(NotFound):
        crm.update_deal_note("777", "<p>x</p>", "handoff-42")
    with pytest.raises(NotFound):
        crm.update_deal_note("../deals/1", "<p>x</p>", "handoff-42")


# --- deal_url and build -------------------------------------------------------------------------


def test_deal_url_uses_configured_portal_and_app_host() -> None:
    ctx = VendorContext(env={"HUBSPOT_TOKEN": TOKEN}, token_store=_NoTokens())
    settings = {
        "portal_id": PORTAL,
        "app_host": "https://app-eu1.hubspot.com/",
    }
    assert build(settings, ctx).deal_url("77") == (
        f"https://app-eu1.hubspot.com/contacts/{PORTAL}/record/0-3/77"
    )


def test_deal_url_without_portal_is_none() -> None:
    ctx = VendorContext(env={"HUBSPOT_TOKEN": TOKEN}, token_store=_NoTokens())
    assert build({}, ctx).deal_url("77") is None


def test_build_without_token_names_the_missing_variable() -> None:
    ctx = VendorContext(env={}, token_store=_NoTokens())
    with pytest.raises(ValueError, match="HUBSPOT_SANDBOX_TOKEN"):
        build({"token_env": "HUBSPOT_SANDBOX_TOKEN"}, ctx)


def test_build_rejects_non_numeric_portal_id() -> None:
    ctx = VendorContext(env={"HUBSPOT_TOKEN": TOKEN}, token_store=_NoTokens())
    with pytest.raises(ValueError, match="portal_id"):
        build({"portal_id": "acme"}, ctx)


# --- parse_deal_reference -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15873902345", "15873902345"),
        ("  456\n", "456"),
        ("https://app.hubspot.com/contacts/123/record/0-3/456", "456"),
        ("https://app.hubspot.com/contacts/123/record/0-3/456/", "456"),
        ("https://app.hubspot.com/contacts/123/record/0-3/456?tab=activity", "456"),
        ("https://app.hubspot.com/contacts/123/deal/456", "456"),
        ("https://app-eu1.hubspot.com/contacts/123/record/0-3/456", "456"),
        ("<https://app.hubspot.com/contacts/123/record/0-3/456>", "456"),
        ("<https://app.hubspot.com/contacts/123/deal/456|Acme rollout>", "456"),
    ],
)
def test_parse_deal_reference_finds_deal_id(text: str, expected: str) -> None:
    assert parse_deal_reference(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "deal 456",
        "456abc",
        "0",
        "-456",
        "4.5",
        "https://app.hubspot.com/contacts/123/record/0-1/456",
        "https://app.hubspot.com/contacts/123/record/0-2/456",
        "https://app.hubspot.com/contacts/123/record/0-3/",
        "https://app.hubspot.com/contacts/123/record/0-3/456abc",
        "https://evil.example/contacts/123/record/0-3/456",
        "https://app.hubspot.com.evil.example/contacts/123/record/0-3/456",
        "http://app.hubspot.com/contacts/123/record/0-3/456",
    ],
)
def test_parse_deal_reference_rejects_junk(text: str) -> None:
    assert parse_deal_reference(text) is None


# --- prefill sources: line items, contact roles, address, contract dates -------------------------


def test_get_deal_reads_line_items_roles_address_and_contract_dates(
    fake: FakeHubSpot, server: StubServer, sleeps: list[float]
) -> None:
    deal = fake.deals[DEAL_ID]
    fake.deals[DEAL_ID] = {
        **deal,
        "properties": {**deal["properties"], "contract_start": "2026-04-01", "contract_end": ""},
        "associations": {
            **deal["associations"],
            "line_items": {
                "results": [
                    {"id": "7002", "type": "deal_to_line_item"},
                    {"id": "7001", "type": "deal_to_line_item"},
                ]
            },
        },
    }
    fake.line_items = {
        "7001": {"name": "Onboarding workshop", "quantity": "1", "price": "3000", "amount": "3000"},
        "7002": {
            "name": "Analytics licence",
            "quantity": "12",
            "price": "1000.00",
            "amount": "10800.00",
            "hs_total_discount": "1200.00",
            "recurringbillingfrequency": "monthly",
        },
    }
    fake.companies["9001"].update(
        address="1 Rua Augusta", city="Lisboa", zip="1100-048", country="Portugal"
    )
    fake.labels["deals"]["501"] = ["Decision maker"]
    fake.labels["companies"]["504"] = ["Billing contact"]
    CONTACTS["504"] = {"firstname": "Rita", "lastname": "Lopes", "email": "ap@acme.example"}
    ctx = VendorContext(env={"HUBSPOT_TOKEN": TOKEN}, token_store=_NoTokens(), sleep=sleeps.append)
    settings = {
        "base_url": server.url,
        "term_start_property": "contract_start",
        "term_end_property": "contract_end",
    }
    try:
        snapshot = build(settings, ctx).get_deal(DEAL_ID)
    finally:
        del CONTACTS["504"]

    assert [(i.name, i.quantity, i.discount, i.recurring) for i in snapshot.line_items] == [
        ("Analytics licence", Decimal("12"), Decimal("1200.00"), "monthly"),
        ("Onboarding workshop", Decimal("1"), None, None),
    ]
    roles = {c.name: c.roles for c in snapshot.contacts}
    assert roles["Ana Pereira"] == ("Decision maker",)
    assert roles["Rita Lopes"] == ("Billing contact",)  # the company's, not on the deal
    assert snapshot.company_address == "1 Rua Augusta\nLisboa 1100-048\nPortugal"
    assert (snapshot.term_start, snapshot.term_end) == (date(2026, 4, 1), None)
