"""Reading a deal's CRM history from the HubSpot stand-in: associations, batch reads, limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from integrations.hubspot import HubSpotCrm, build
from integrations.hubspot_history import RateWindow, html_to_text
from integrations.ports import HistoryQuery
from integrations.registry import VendorContext
from tests.support.fake_hubspot import FakeHubSpot
from tests.support.stub_server import StubServer

DEAL = "7001"
PORTAL = "48975575"
ALL_BUT_EMAIL = HistoryQuery(kinds=("note", "call", "meeting"))


class _NoTokens:
    def load(self, provider: str, account: str) -> None:
        return None

    def save(self, provider: str, account: str, token: object) -> None:
        raise AssertionError("no tokens here")

    def locked(self, provider: str, account: str) -> Iterator[None]:
        raise AssertionError("no tokens here")


@pytest.fixture
def fake() -> FakeHubSpot:
    fake = FakeHubSpot()
    # The fake's deals are created 2026-11-01T10:00Z.
    fake.add_deal(DEAL, contacts=({"firstname": "Dana", "email": "dana@acme.example"},))
    fake.owners["777"] = {"id": "777", "email": "kim@seller.example", "firstName": "Kim"}
    return fake


@pytest.fixture
def server(fake: FakeHubSpot) -> Iterator[StubServer]:
    with fake.serving() as stub:
        yield stub


@pytest.fixture
def crm(server: StubServer) -> HubSpotCrm:
    ctx = VendorContext(env={"HUBSPOT_TOKEN": "pat"}, token_store=_NoTokens(), sleep=lambda s: None)
    return build({"base_url": server.url, "portal_id": PORTAL}, ctx)


def _seed(fake: FakeHubSpot) -> dict[str, str]:
    company, [contact] = fake.company_of(DEAL), fake.contacts_of(DEAL)
    return {
        "old_deal_note": fake.add_engagement(
            "notes",
            on=(("deals", DEAL),),
            timestamp="2026-10-20T09:00:00Z",  # before the deal was created: still the deal's
            hs_note_body="<p>First contact &amp; <b>budget</b> agreed</p><p>Second line</p>",
        ),
        "call": fake.add_engagement(
            "calls",
            on=(("deals", DEAL), ("contacts", contact)),  # on two records: listed once
            timestamp="2026-11-10T15:00:00Z",
            owner_id="777",
            hs_call_title="Scoping call",
            hs_call_body="They need month-end reporting in two hours.",
        ),
        "meeting": fake.add_engagement(
            "meetings",
            on=(("companies", company),),
            timestamp="2026-11-12T10:00:00Z",
            hs_meeting_title="Kickoff planning",
            hs_meeting_body="<div>Weekly status on Fridays</div>",
        ),
        "old_company_note": fake.add_engagement(
            "notes",
            on=(("companies", company),),
            timestamp="2025-05-01T10:00:00Z",  # about an older deal of the company: left out
            hs_note_body="Old renewal chat",
        ),
        "email": fake.add_engagement(
            "emails",
            on=(("deals", DEAL),),
            timestamp="2026-11-15T08:00:00Z",
            hs_email_subject="Re: contract",
            hs_email_text="Personal details here",
        ),
    }


def test_deal_history_lists_deal_company_and_contact_engagements_newest_first(
    crm: HubSpotCrm, fake: FakeHubSpot
) -> None:
    ids = _seed(fake)

    entries = crm.deal_history(DEAL, ALL_BUT_EMAIL)

    assert [e.source_id for e in entries] == [
        f"meeting:{ids['meeting']}",
        f"call:{ids['call']}",
        f"note:{ids['old_deal_note']}",
    ]
    meeting, call, note = entries
    assert meeting.title == "Kickoff planning"
    assert meeting.body == "Weekly status on Fridays"
    assert meeting.occurred_at == datetime(2026, 11, 12, 10, tzinfo=UTC)
    assert meeting.author == "Sam Seller"
    company = fake.company_of(DEAL)
    assert meeting.url == f"https://app.hubspot.com/contacts/{PORTAL}/record/0-2/{company}"
    assert call.author == "Kim"
    assert call.url == f"https://app.hubspot.com/contacts/{PORTAL}/record/0-3/{DEAL}"
    assert note.title == "First contact & budget agreed"  # a note's title is its first line
    assert note.body == "First contact & budget agreed\nSecond line"


def test_deal_history_reads_emails_only_when_asked(
    crm: HubSpotCrm, fake: FakeHubSpot, server: StubServer
) -> None:
    ids = _seed(fake)

    without = crm.deal_history(DEAL, ALL_BUT_EMAIL)
    asked_before = [r.path for r in server.requests if "emails" in r.path]
    with_emails = crm.deal_history(DEAL, HistoryQuery(kinds=("note", "email")))

    assert asked_before == []  # email bodies were never even requested
    assert all(e.kind != "email" for e in without)
    [email] = [e for e in with_emails if e.kind == "email"]
    assert email.source_id == f"email:{ids['email']}"
    assert email.title == "Re: contract"


def test_deal_history_since_a_previous_handoff_keeps_only_what_is_new(
    crm: HubSpotCrm, fake: FakeHubSpot
) -> None:
    _seed(fake)
    since = datetime(2026, 11, 11, tzinfo=UTC)

    entries = crm.deal_history(DEAL, HistoryQuery(kinds=("note", "call", "meeting"), since=since))

    assert [e.kind for e in entries] == ["meeting"]


def test_deal_history_follows_association_pages_and_batches_reads_by_100(
    crm: HubSpotCrm, fake: FakeHubSpot, server: StubServer
) -> None:
    fake.page_size = 40
    for day in range(1, 151):
        fake.add_engagement(
            "notes",
            on=(("deals", DEAL),),
            timestamp=f"2026-11-{1 + day % 28:02d}T{day % 24:02d}:{day % 60:02d}:00Z",
            hs_note_body=f"Note {day}",
        )

    entries = crm.deal_history(DEAL, HistoryQuery(kinds=("note",), max_entries=500))

    assert len(entries) == 150
    pages = [r for r in server.requests if r.path.endswith(f"/deals/{DEAL}/associations/notes")]
    assert len(pages) == 4  # 40 + 40 + 40 + 30, each asking for HubSpot's maximum of 500
    assert pages[0].query["limit"] == ["500"] and "after" in pages[1].query
    reads = [r for r in server.requests if r.path == "/crm/v3/objects/notes/batch/read"]
    assert [len(r.json["inputs"]) for r in reads] == [100, 50]


def test_deal_history_caps_entries_and_bodies(crm: HubSpotCrm, fake: FakeHubSpot) -> None:
    for n in range(5):
        fake.add_engagement(
            "notes",
            on=(("deals", DEAL),),
            timestamp=f"2026-11-0{n + 1}T12:00:00Z",
            hs_note_body="x" * 500,
        )

    entries = crm.deal_history(DEAL, HistoryQuery(kinds=("note",), max_entries=3, body_cap=100))

    assert len(entries) == 3
    assert entries[0].occurred_at.day == 5
    assert all(len(e.body) == 100 and e.body.endswith("…") for e in entries)


def test_rate_window_waits_once_the_window_is_full() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    window = RateWindow(3, 10.0, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(4):
        window.wait()
        now[0] += 1.0

    assert slept == [7.0]  # the 4th request waits until the first leaves the 10 s window


def test_html_to_text_drops_tags_scripts_and_decodes_entities() -> None:
    html = "<p>Hello&nbsp;<b>world</b></p><script>alert(1)</script><ul><li>a</li><li>b</li></ul>"

    assert html_to_text(html) == "Hello world\na\nb"
