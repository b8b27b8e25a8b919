"""The HubSpot adapter opens a renewal deal beside the renewed one, once per brief marker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from decimal import Decimal

import pytest

from integrations.hubspot import HubSpotCrm, build
from integrations.hubspot_renewal import NOTE_BUDGET, note_html
from integrations.ports import (
    BriefItem,
    BriefSection,
    HandoffBrief,
    NotFound,
    OAuthToken,
    RenewalDealRequest,
    VendorOutcomeUnknown,
)
from integrations.registry import VendorContext
from tests.support.fake_hubspot import FakeHubSpot

DEALS = "/crm/v3/objects/deals"


class _NoTokens:
    """HubSpot uses a static private-app token, so the token store is never consulted."""

    def load(self, provider: str, account: str) -> OAuthToken | None:
        raise AssertionError("HubSpot must not use the token store")

    def save(self, provider: str, account: str, token: OAuthToken) -> None:
        raise AssertionError("HubSpot must not use the token store")

    def locked(self, provider: str, account: str) -> AbstractContextManager[None]:
        return nullcontext()


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot()
    with fake.serving():
        yield fake


def crm_for(fake: FakeHubSpot) -> HubSpotCrm:
    ctx = VendorContext(env={"HUBSPOT_TOKEN": "pat-test"}, token_store=_NoTokens())
    return build({"base_url": fake.url, "portal_id": "123"}, ctx)


def request_for(source: str, marker: str = "handoff-7") -> RenewalDealRequest:
    brief = HandoffBrief(
        handoff_id=7,
        kind="renewal_to_sales",
        marker=marker,
        title="Acme — Renewal handoff",
        account_name="Acme",
        summary="Renewal handoff for Acme.",
        sections=(BriefSection(title="The account", items=(BriefItem(label="A", value="b"),)),),
    )
    return RenewalDealRequest(
        source_deal_id=source,
        name="Acme — renewal 2027-12-31",
        amount=Decimal("43200.50"),
        currency="EUR",
        close_date=date(2027, 12, 31),
        pipeline_id="default",
        stage_id="appointmentscheduled",
        brief=brief,
    )


def posts(fake: FakeHubSpot, path: str) -> int:
    assert fake.server is not None
    return len([r for r in fake.server.requests if r.method == "POST" and r.path == path])


def test_without_a_company_the_deal_is_found_again_through_its_first_contact(
    hubspot: FakeHubSpot,
) -> None:
    hubspot.add_deal("41", contacts=({"firstname": "Ana", "email": "ana@acme.example"},))
    hubspot.deals["41"]["companies"] = []  # a deal sold to a person
    crm = crm_for(hubspot)
    hubspot.lose_next_create = 1

    with pytest.raises(VendorOutcomeUnknown):
        crm.create_renewal_deal(request_for("41"), look_first=False)
    made = crm.create_renewal_deal(request_for("41"), look_first=True)

    assert posts(hubspot, DEALS) == 1
    assert made.record.external_id == hubspot.created_deals[0]
    deal_id = made.record.external_id
    assert made.record.url == f"https://app.hubspot.com/contacts/123/record/0-3/{deal_id}"
    assert made.owner_id == "501"
    created = hubspot.deals[made.record.external_id]
    assert created["companies"] == [] and created["contacts"] == hubspot.contacts_of("41")
    assert created["properties"]["amount"] == "43200.50"


def test_look_first_ignores_another_handoffs_marker(hubspot: FakeHubSpot) -> None:
    hubspot.add_deal("42")
    crm = crm_for(hubspot)
    first = crm.create_renewal_deal(request_for("42", marker="handoff-42"), look_first=False)

    # handoff-4's renewal is not handoff-42's: the bracketed marker tells them apart.
    second = crm.create_renewal_deal(request_for("42", marker="handoff-4"), look_first=True)

    assert posts(hubspot, DEALS) == 2
    assert first.record.external_id != second.record.external_id
    again = crm.create_renewal_deal(request_for("42", marker="handoff-4"), look_first=True)
    assert again.record.external_id == second.record.external_id
    assert posts(hubspot, DEALS) == 2
    assert again.record.extra_ids == second.record.extra_ids  # the note found, not written twice


def test_a_source_deal_id_that_is_not_a_hubspot_id_is_never_sent(hubspot: FakeHubSpot) -> None:
    crm = crm_for(hubspot)

    with pytest.raises(NotFound):
        crm.create_renewal_deal(request_for("../owners/1"), look_first=False)

    assert hubspot.server is not None and hubspot.server.requests == []


def test_note_html_escapes_the_brief_and_stays_within_hubspots_note_size() -> None:
    sections = tuple(
        BriefSection(
            title=f"Part {n}",
            items=tuple(BriefItem(label="<b>", value="x & y\n" * 600) for _ in range(5)),
        )
        for n in range(10)
    )
    brief = request_for("1").brief.model_copy(update={"sections": sections})

    body = note_html(brief)

    assert len(body) <= NOTE_BUDGET
    assert "<strong>&lt;b&gt;:</strong> x &amp; y<br>" in body
    assert body.endswith("<p>The rest of the handoff is in its Slack thread.</p>")
