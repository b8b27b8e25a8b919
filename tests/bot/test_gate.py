"""The gate: a deal won in HubSpot is held until its handoff is submitted."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import Handoff, HandoffStatus, OutboxJob
from tests.bot.conftest import ADMIN, SELLER, Harness, won_event


def _handoffs(h: Harness) -> list[Handoff]:
    with h.services.uow() as uow:
        return list(uow.session.scalars(select(Handoff)))


def test_gate_deal_won_holds_deal_and_dms_owner(harness: Harness) -> None:
    harness.hubspot.add_deal("332507367156", name="Acme rollout", company="Acme Ltd")

    response = harness.hubspot_webhook([won_event("332507367156", 1)])

    assert response.status == 200
    assert harness.hubspot.stage_changes == [("332507367156", "4242")]
    [handoff] = _handoffs(harness)
    assert handoff.status == HandoffStatus.AWAITING_FORM
    assert handoff.sender_user_id == SELLER
    assert handoff.account_name == "Acme Ltd"
    [dm] = harness.slack.dms_to(SELLER)
    assert "Acme rollout" in dm.text
    button = dm.blocks[1]["elements"][0]
    assert button["text"]["text"] == "Complete handoff"
    assert button["value"] == str(handoff.id)
    assert harness.slack.problems == []


def test_gate_duplicate_and_retried_deliveries_create_one_handoff(harness: Harness) -> None:
    harness.hubspot.add_deal("101")
    event = won_event("101", 77)

    harness.hubspot_webhook([event])
    retried = {**event, "attemptNumber": 1}
    harness.hubspot_webhook([retried])
    harness.hubspot_webhook([event, event])

    assert len(_handoffs(harness)) == 1
    assert harness.hubspot.stage_changes == [("101", "4242")]
    assert len(harness.slack.dms_to(SELLER)) == 1


def test_gate_second_won_event_before_submission_holds_again_without_new_handoff(
    harness: Harness,
) -> None:
    harness.hubspot.add_deal("102")

    harness.hubspot_webhook([won_event("102", 1)])
    # Someone drags the deal back to won by hand, after the hold: a new event, a later change.
    harness.clock.advance(minutes=5)
    later = int(harness.clock.now.timestamp() * 1000)
    harness.hubspot_webhook([{**won_event("102", 2), "occurredAt": later}])

    assert len(_handoffs(harness)) == 1
    assert harness.hubspot.stage_changes == [("102", "4242"), ("102", "4242")]
    assert len(harness.slack.dms_to(SELLER)) == 1


def test_gate_ignores_its_own_stage_changes(harness: Harness) -> None:
    harness.hubspot.add_deal("103")

    own = won_event("103", 5, source="INTEGRATION", source_id="39522895")
    harness.hubspot_webhook([own])

    assert _handoffs(harness) == []
    assert harness.hubspot.stage_changes == []


def test_gate_ignores_other_stages_and_other_properties(harness: Harness) -> None:
    harness.hubspot.add_deal("104")
    amount = {**won_event("104", 6), "propertyName": "amount", "propertyValue": "5000"}

    harness.hubspot_webhook([won_event("104", 7, stage="qualifiedtobuy"), amount])

    assert _handoffs(harness) == []


def test_gate_leaves_deal_won_once_handoff_submitted(harness: Harness) -> None:
    harness.hubspot.add_deal("105")
    harness.hubspot_webhook([won_event("105", 1)])
    with harness.services.uow() as uow:
        handoff = uow.session.scalars(select(Handoff)).one()
        handoff.status = HandoffStatus.SUBMITTED
        uow.commit()

    harness.hubspot_webhook([won_event("105", 2)])

    assert harness.hubspot.stage_changes == [("105", "4242")]


def test_gate_rejects_bad_signature_and_stale_timestamp(harness: Harness) -> None:
    harness.hubspot.add_deal("106")

    forged = harness.hubspot_webhook([won_event("106", 1)], secret="not-the-secret")
    stale = harness.hubspot_webhook([won_event("106", 2)], age_ms=301_000)

    assert forged.status == 401
    assert stale.status == 401
    assert "stale" in str(stale.body["error"]) or "timestamp" in str(stale.body["error"])
    assert _handoffs(harness) == []


def test_gate_malformed_body_gets_specific_400(harness: Harness) -> None:
    response = harness.hubspot_webhook([{"eventId": 1}])

    assert response.status == 400
    assert "event 0" in str(response.body["error"]) or "missing" in str(response.body["error"])


def test_gate_owner_without_slack_account_tells_admin(harness: Harness) -> None:
    harness.hubspot.add_deal("107", name="Globex renewal", owner_email="nobody@seller.example")

    harness.hubspot_webhook([won_event("107", 1)])

    [alert] = harness.slack.dms_to(ADMIN)
    assert "Globex renewal" in alert.text
    assert "/handoff 107" in alert.text
    [handoff] = _handoffs(harness)
    assert handoff.sender_user_id is None


def test_gate_unknown_deal_parks_job_and_tells_admin(harness: Harness) -> None:
    harness.hubspot_webhook([won_event("999", 1)])

    with harness.services.uow() as uow:
        dead = uow.session.scalar(
            select(func.count()).select_from(OutboxJob).where(OutboxJob.status == "dead")
        )
    assert dead >= 1
    alerts = harness.slack.dms_to(ADMIN)
    assert any("not found" in m.text.lower() for m in alerts)


def test_gate_skips_event_types_it_does_not_handle_and_keeps_the_won_event(
    harness: Harness,
) -> None:
    harness.hubspot.add_deal("110")
    won = won_event("110", 11)
    association = {
        key: won[key] for key in ("subscriptionId", "portalId", "appId", "occurredAt")
    } | {
        "eventId": 12,
        "subscriptionType": "deal.associationChange",
        "attemptNumber": 0,
        "changeSource": "USER",
        "associationType": "DEAL_TO_CONTACT",
        "fromObjectId": 110,
        "toObjectId": 501,
        "associationRemoved": False,
        "isPrimaryAssociation": False,
    }
    other_property = {"eventId": 13, "subscriptionType": "deal.propertyChange"} | {
        "propertyName": "hs_lastmodifieddate",
        "objectId": "not a number",
    }

    response = harness.hubspot_webhook([association, other_property, won])

    assert response.status == 200
    assert response.body == {"received": 3}
    [handoff] = _handoffs(harness)
    assert handoff.deal_id == "110"
