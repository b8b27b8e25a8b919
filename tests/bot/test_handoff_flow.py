"""The form, the submission, the thread and the confirmations, through signed Slack requests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.services.prefill import stored_opening
from storage.models import AuditEvent, Handoff, HandoffStatus, ThreadMessage
from tests.bot.conftest import (
    FIN_MEMBER,
    HANDOFF_CHANNEL,
    OPS_MEMBER,
    SELLER,
    Harness,
    load_payload,
    won_event,
)
from tests.support.slack_state import initial_values, state_from_values
from tests.support.stub_server import Reply

DEAL = "332507367156"

VALID: dict[str, Any] = {
    "account_name": "Acme Ltd",
    "why_they_bought": "Their reporting takes two days a month; they want it automated.",
    "success_criteria": "Month-end report produced in under 2 hours by day 90.",
    "month_one": "Weekly status email on Fridays, fortnightly call with the PM.",
    "promises_made": "None",
    "buyer_name": "Dana Ops",
    "buyer_role": "Operations Director",
    "buyer_email": "dana@acme.example",
    "day_to_day_name": "Pat Manager",
    "day_to_day_role": "Project Manager",
    "day_to_day_email": "pat@acme.example",
    "billing_contact_name": "Bill Payable",
    "billing_contact_role": "Accounts Payable",
    "billing_contact_email": "ap@acme.example",
    "deliverables": "Reporting pipeline\nDashboard\nTraining session",
    "out_of_scope": "Data warehouse migration",
    "acceptance_criteria": "Pipeline runs nightly for 10 days without a manual fix",
    "term_start": "2027-01-01",
    "term_end": "2027-12-31",
    "contract_value": "36000",
    "currency": "GBP",
    "schedule": "quarterly",
    "first_invoice_date": "2027-01-01",
    "payment_terms_days": "30",
    "earliest_kickoff": "2027-01-11",
    "go_live_date": "2027-03-01",
    "risks_none_known": ["yes"],
    "kickoff_waits_on": "Old supplier's contract ends 2027-01-08",
}


def won_and_dm(h: Harness) -> tuple[int, dict[str, Any]]:
    """Win the deal through the webhook; return the handoff id and the DM's button."""
    h.hubspot.add_deal(
        DEAL,
        contacts=(
            {
                "firstname": "Dana",
                "lastname": "Ops",
                "email": "dana@acme.example",
                "jobtitle": "Operations Director",
            },
            {
                "firstname": "Pat",
                "lastname": "Manager",
                "email": "pat@acme.example",
                "jobtitle": "Project Manager",
            },
        ),
    )
    h.hubspot_webhook([won_event(DEAL, 1)])
    [dm] = h.slack.dms_to(SELLER)
    button = dm.blocks[1]["elements"][0]
    return int(button["value"]), button


def click(
    h: Harness, action_id: str, value: str, user: str = SELLER, channel: str = HANDOFF_CHANNEL
) -> Any:
    payload = load_payload("block_actions.message_button.json")
    payload["user"] = {"id": user, "username": user, "team_id": "T111"}
    payload["channel"] = {"id": channel, "name": "handoffs"}
    payload["actions"] = [
        {
            "type": "button",
            "action_id": action_id,
            "block_id": "b",
            "value": value,
            "text": {"type": "plain_text", "text": "x"},
            "action_ts": "1.2",
        }
    ]
    return h.interact(payload)


def open_form(h: Harness, handoff_id: int) -> tuple[str, dict[str, Any]]:
    response = click(h, "open_form", str(handoff_id))
    assert response.status == 200
    view_id = list(h.slack.views)[-1]
    return view_id, h.slack.views[view_id]


def submit_one(
    h: Harness, view_id: str, view: dict[str, Any], values: dict[str, Any], user: str = SELLER
) -> Any:
    """Submit the view on screen (one step of the form) with `values` typed in."""
    payload = load_payload("view_submission.json")
    payload["user"] = {"id": user, "username": user, "team_id": "T111"}
    payload["view"] = {
        **payload["view"],
        **view,
        "id": view_id,
        "state": {"values": state_from_values(view, values)},
    }
    return h.interact(payload)


def submit(
    h: Harness, view_id: str, view: dict[str, Any], values: dict[str, Any], user: str = SELLER
) -> Any:
    """Submit every step of the form with `values`; the last answer Slack got."""
    response = submit_one(h, view_id, view, values, user)
    for _ in range(5):
        body = json.loads(response.body or "{}")
        following = body.get("view") or {}
        if body.get("response_action") != "update" or not is_next_step(following, view):
            return response
        view = following
        response = submit_one(h, view_id, view, values, user)
    return response


def is_next_step(following: dict[str, Any], shown: dict[str, Any]) -> bool:
    """Whether Slack was told to show another step of the same form (not a result view)."""

    def progress(view: dict[str, Any]) -> str | None:
        blocks = [b for b in view.get("blocks", []) if b.get("block_id") == "progress"]
        return json.dumps(blocks[0]) if blocks else None

    moved = progress(following) not in (None, progress(shown))
    return following.get("callback_id") == shown.get("callback_id") and moved


def submitted_handoff(h: Harness) -> tuple[int, Handoff]:
    handoff_id, _ = won_and_dm(h)
    view_id, view = open_form(h, handoff_id)
    response = submit(h, view_id, view, VALID)
    assert response.status == 200, response.body
    with h.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None
        return handoff_id, handoff


def test_form_opens_in_one_views_open_from_the_stored_crm_snapshot(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    assert harness.hubspot.server is not None
    asked_before = len(harness.hubspot.server.requests)
    harness.hubspot.fail_next = [Reply(503, {"message": "down"})] * 10  # the CRM is down now

    _, view = open_form(harness, handoff_id)

    assert [name for name, _ in harness.slack.view_calls] == ["views.open"]  # no loading view
    assert view["callback_id"] == "handoff_form.sales_to_delivery"
    shown = initial_values(view)
    assert shown["account_name"] == "Acme Ltd"
    assert "Dana Ops" in json.dumps(shown)
    assert "Step 1 of 3" in json.dumps(view["blocks"][1])
    assert json.loads(view["private_metadata"]) == {"handoff_id": handoff_id}
    assert len(harness.hubspot.server.requests) == asked_before  # nothing asked of the CRM
    assert harness.slack.problems == []


def forget_snapshot(h: Harness, handoff_id: int) -> None:
    """As if the snapshot job had not run yet when the button is clicked."""
    with h.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None
        handoff.crm_snapshot = None
        uow.commit()


def test_form_without_a_snapshot_opens_loading_then_fills_from_the_crm(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    forget_snapshot(harness, handoff_id)

    _, view = open_form(harness, handoff_id)

    calls = harness.slack.view_calls
    assert [name for name, _ in calls] == ["views.open", "views.update"]
    assert calls[0][1]["callback_id"] != view["callback_id"]  # the loading view first
    assert "Dana Ops" in json.dumps(initial_values(view))  # the CRM's contacts, on step 1
    with harness.services.uow() as uow:
        stored = uow.repo.handoff(handoff_id)
        assert stored is not None and stored.crm_snapshot is not None  # kept for next time


def test_form_invalid_submission_shows_errors_by_field_and_keeps_values(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    view_id, view = open_form(harness, handoff_id)
    bad = {**VALID, "term_end": "2026-06-30", "buyer_email": "not-an-email"}

    response = submit(harness, view_id, view, bad)

    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"buyer_email"}  # step 1 of 3: only what is on screen
    response = submit(harness, view_id, view, {**bad, "buyer_email": VALID["buyer_email"]})
    body = json.loads(response.body)
    assert (body["response_action"], set(body["errors"])) == ("errors", {"term_end"})
    with harness.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None
        assert handoff.status == HandoffStatus.AWAITING_FORM
        assert handoff.draft_payload is not None
        assert handoff.draft_payload["why_they_bought"] == VALID["why_they_bought"]


def test_form_closed_keeps_draft_and_reopening_restores_it(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    view_id, view = open_form(harness, handoff_id)
    closed = load_payload("view_closed.json")
    closed["user"] = {"id": SELLER, "username": "s", "team_id": "T111"}
    typed = {"why_they_bought": "Half-typed reason", "account_name": "Acme Ltd"}
    closed["view"] = {
        **closed["view"],
        **view,
        "id": view_id,
        "state": {"values": state_from_values(view, typed)},
    }

    assert harness.interact(closed).status == 200
    _, reopened = open_form(harness, handoff_id)

    assert initial_values(reopened)["why_they_bought"] == "Half-typed reason"


def test_form_submission_posts_thread_releases_deal_and_notifies_teams(harness: Harness) -> None:
    _, handoff = submitted_handoff(harness)

    # No team tool is configured here, so the only record is the CRM note: delivered at once.
    assert handoff.status == HandoffStatus.DELIVERED
    assert handoff.record("crm_note") is not None
    assert len(harness.hubspot.notes) == 1
    assert handoff.form_payload is not None and handoff.schema_version >= 1
    assert harness.hubspot.stage_changes[-1] == (DEAL, "closedwon")
    [root] = harness.slack.in_channel(HANDOFF_CHANNEL)
    assert handoff.thread_ts == root.ts
    text = json.dumps(root.blocks)
    for expected in (
        "Acme Ltd",
        "Operations Director",
        "Confirm for Operations",
        "Confirm for Finance",
        "View handoff",
    ):
        assert expected in text
    [announce] = harness.slack.in_channel(HANDOFF_CHANNEL, thread_ts=root.ts)
    assert "<!subteam^S0OPS>" in announce.text and f"<@{FIN_MEMBER}>" in announce.text
    assert harness.slack.problems == []


def test_form_resubmission_is_refused_without_change(harness: Harness) -> None:
    handoff_id, _ = submitted_handoff(harness)
    view_id = list(harness.slack.views)[-1]
    form_view = next(
        v for m, v in harness.slack.view_calls if "handoff_form" in str(v.get("callback_id"))
    )

    response = submit(harness, view_id, form_view, {**VALID, "account_name": "Changed"})

    body = json.loads(response.body)
    assert body["response_action"] == "update"
    [block] = body["view"]["blocks"]
    assert (
        block["text"]["text"]
        == ":warning: This handoff was already submitted; nothing was changed."
    )
    with harness.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None and handoff.account_name == "Acme Ltd"


def test_confirm_by_non_member_is_refused_with_ephemeral(harness: Harness) -> None:
    handoff_id, _ = submitted_handoff(harness)

    click(harness, "confirm_handoff:finance", f"{handoff_id}:finance", user=OPS_MEMBER)

    [note] = harness.slack.ephemerals
    assert note.user == OPS_MEMBER and "Only members of Finance" in note.text
    with harness.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None and handoff.receipt("finance").confirmed_at is None


def test_confirm_by_each_team_updates_message_and_completes(harness: Harness) -> None:
    handoff_id, handoff = submitted_handoff(harness)
    root_ts = handoff.thread_ts
    assert root_ts is not None

    click(harness, "confirm_handoff:ops", f"{handoff_id}:ops", user=OPS_MEMBER)
    after_ops = harness.slack.latest(HANDOFF_CHANNEL, root_ts)
    assert f"confirmed by <@{OPS_MEMBER}>" in json.dumps(after_ops.blocks)
    assert "Confirm for Operations" not in json.dumps(after_ops.blocks)

    click(harness, "confirm_handoff:finance", f"{handoff_id}:finance", user=FIN_MEMBER)

    with harness.services.uow() as uow:
        stored = uow.repo.handoff(handoff_id)
        assert stored is not None and stored.status == HandoffStatus.CONFIRMED
    final = harness.slack.latest(HANDOFF_CHANNEL, root_ts)
    assert "Handoff complete" in json.dumps(final.blocks)
    replies = harness.slack.in_channel(HANDOFF_CHANNEL, thread_ts=root_ts)
    assert any("this handoff is complete" in m.text for m in replies)


def test_thread_question_is_recorded_mentions_seller_and_shows_on_message(harness: Harness) -> None:
    handoff_id, handoff = submitted_handoff(harness)
    root_ts = handoff.thread_ts
    question = {
        "type": "message",
        "channel": HANDOFF_CHANNEL,
        "user": OPS_MEMBER,
        "text": "Who grants VPN access?",
        "ts": "1700000100.000100",
        "thread_ts": root_ts,
        "parent_user_id": "UBOT",
        "event_ts": "1700000100.000100",
        "channel_type": "channel",
    }

    harness.event(question)
    harness.event(question, retry_num=1)  # Slack retried: still one record

    with harness.services.uow() as uow:
        messages = list(uow.session.scalars(select(ThreadMessage)))
    assert [(m.user_id, m.is_question) for m in messages] == [(OPS_MEMBER, True)]
    replies = harness.slack.in_channel(HANDOFF_CHANNEL, thread_ts=root_ts)
    assert any(f"<@{SELLER}>" in m.text and f"<@{OPS_MEMBER}>" in m.text for m in replies)
    assert root_ts is not None
    assert "Who grants VPN access?" in json.dumps(
        harness.slack.latest(HANDOFF_CHANNEL, root_ts).blocks
    )

    answer = {
        **question,
        "user": SELLER,
        "text": "Their IT lead, Kim.",
        "ts": "1700000200.000200",
        "event_ts": "1700000200.000200",
    }
    harness.event(answer)

    with harness.services.uow() as uow:
        asked = uow.session.scalars(select(ThreadMessage).where(ThreadMessage.is_question)).one()
        assert asked.answered_at is not None
    assert "Open questions" not in json.dumps(harness.slack.latest(HANDOFF_CHANNEL, root_ts).blocks)
    assert handoff_id


def test_audit_timeline_records_every_step(harness: Harness) -> None:
    handoff_id, _ = submitted_handoff(harness)
    click(harness, "confirm_handoff:ops", f"{handoff_id}:ops", user=OPS_MEMBER)

    with harness.services.uow() as uow:
        events = [
            e.event
            for e in uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.handoff_id == handoff_id)
                .order_by(AuditEvent.id)
            )
        ]
    for expected in (
        "deal_won",
        "sender_assigned",
        "owner_notified",
        "deal_stage_moved",
        "submitted",
        "posted",
        "confirmed",
    ):
        assert expected in events


def test_form_error_on_field_not_yet_shown_rerenders_with_it(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    view_id, view = open_form(harness, handoff_id)
    assert "milestones" not in {b.get("block_id") for b in view["blocks"]}
    # The salesperson picked "Milestones" and pressed submit before Slack re-rendered.
    values = {**VALID, "schedule": "milestones"}

    response = submit(harness, view_id, view, values)

    body = json.loads(response.body)
    assert body["response_action"] == "update", body
    assert "milestones" in {b.get("block_id") for b in body["view"]["blocks"]}
    assert "Milestones" in json.dumps(body["view"]["blocks"])  # the summary names it
    with harness.services.uow() as uow:  # the earlier steps are kept
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None and handoff.draft_payload is not None
        assert handoff.draft_payload["why_they_bought"] == VALID["why_they_bought"]


def test_form_opened_by_someone_else_explains_whose_it_is(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)

    click(harness, "open_form", str(handoff_id), user=OPS_MEMBER)

    shown = json.dumps(list(harness.slack.views.values())[-1])
    assert f"<@{SELLER}>" in shown and "to complete" in shown


def test_form_crm_down_still_opens_without_prefill(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    forget_snapshot(harness, handoff_id)
    harness.hubspot.fail_next = [Reply(503, {"message": "down"})] * 3

    _, view = open_form(harness, handoff_id)

    assert view["callback_id"] == "handoff_form.sales_to_delivery"
    assert "could not be reached" in json.dumps(view)
    assert initial_values(view)["account_name"] == "Acme Ltd"


def test_view_handoff_opens_the_whole_form_read_only_with_its_timeline(harness: Harness) -> None:
    handoff_id, _ = submitted_handoff(harness)
    click(harness, "confirm_handoff:ops", f"{handoff_id}:ops", user=OPS_MEMBER)

    click(harness, "view_handoff", str(handoff_id), user=FIN_MEMBER)

    view = list(harness.slack.views.values())[-1]
    shown = json.dumps(view)
    assert view["callback_id"] == "handoff_readonly"
    assert VALID["why_they_bought"] in shown
    assert "Timeline" in shown
    assert f"confirmed (ops) by <@{OPS_MEMBER}>" in shown
    assert "submitted by" in shown
    assert harness.slack.problems == []


def test_form_prefill_uses_line_items_owner_and_contact_roles(harness: Harness) -> None:
    harness.hubspot.add_deal(
        DEAL,
        contacts=(
            {
                "firstname": "Dana",
                "lastname": "Ops",
                "email": "dana@acme.example",
                "jobtitle": "Operations Director",
            },
            {
                "firstname": "Bill",
                "lastname": "Payable",
                "email": "bill@acme.example",
                "jobtitle": "Office Manager",
                "labels": "Billing contact",
            },
        ),
        line_items=(
            {
                "name": "Reporting licence",
                "quantity": "12",
                "price": "3000",
                "amount": "36000",
                "recurringbillingfrequency": "quarterly",
            },
        ),
        company_address={"address": "1 Market Street", "city": "Leeds", "zip": "LS1 1AA"},
    )
    harness.hubspot_webhook([won_event(DEAL, 1)])
    [dm] = harness.slack.dms_to(SELLER)
    handoff_id = int(dm.blocks[1]["elements"][0]["value"])

    open_form(harness, handoff_id)

    with harness.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None and handoff.draft_payload is None  # nothing typed yet
    # What every step of the form opens with, from the snapshot the gate stored.
    opened = stored_opening(handoff, harness.services.crm, harness.clock.now.date())
    assert opened is not None
    prefill = opened.values
    assert prefill["deliverables"] == "Reporting licence x 12"
    assert prefill["schedule"] == "quarterly"
    assert prefill["billing_contact_name"] == "Bill Payable"
    assert prefill["account_manager"] == SELLER  # the deal owner, found in Slack
    assert prefill["billing_address"] == "1 Market Street\nLeeds LS1 1AA"


def press_in_view(
    h: Harness, view_id: str, view: dict[str, Any], action_id: str, typed: dict[str, Any]
) -> Any:
    """Press a button of the open modal with `typed` in its inputs (Slack's view block_actions)."""
    payload = load_payload("socket_mode_envelope.block_actions.modal_static_select.json")["payload"]
    payload["user"] = {"id": SELLER, "username": SELLER, "team_id": "T111"}
    payload["container"] = {"type": "view", "view_id": view_id}
    payload["view"] = {
        **payload["view"],
        **view,
        "id": view_id,
        "state": {"values": state_from_values(view, typed)},
    }
    [button] = [
        element
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    ]
    payload["actions"] = [{**button, "block_id": "draft_actions", "action_ts": "1.2"}]
    return h.interact(payload)


def test_form_back_button_shows_the_previous_step_keeping_what_was_typed(
    harness: Harness,
) -> None:
    handoff_id, _ = won_and_dm(harness)
    view_id, first = open_form(harness, handoff_id)
    second = json.loads(submit_one(harness, view_id, first, VALID).body)["view"]
    typed = {
        **VALID,
        "out_of_scope": "Typed on step 2, then Back",
        "earliest_kickoff": "2020-01-06",
    }

    assert press_in_view(harness, view_id, second, "step_back", typed).status == 200

    shown = harness.slack.views[view_id]
    assert "Step 1 of 3" in json.dumps(shown["blocks"][1])
    assert initial_values(shown)["why_they_bought"] == VALID["why_they_bought"]
    with harness.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None and handoff.draft_payload is not None
        draft = handoff.draft_payload
    # Stored before Slack heard back, not validated: the kickoff in the past is kept as typed.
    assert (draft["_step"], draft["out_of_scope"], draft["earliest_kickoff"]) == (
        1,
        "Typed on step 2, then Back",
        "2020-01-06",
    )
    again = json.loads(submit_one(harness, view_id, shown, VALID).body)["view"]
    assert initial_values(again)["out_of_scope"] == "Typed on step 2, then Back"
    assert harness.slack.problems == []
