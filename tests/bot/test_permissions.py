"""Who may do what (bot/services/permissions.py), through signed Slack and HubSpot requests."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select

from bot.config import parse_org_config
from storage.models import AuditEvent, Handoff, HandoffStatus, Obligation
from tests.bot.conftest import (
    ADMIN,
    FIN_MEMBER,
    OPS_MEMBER,
    SELLER,
    Harness,
    load_payload,
    org_dict,
    won_event,
)
from tests.bot.test_handoff_flow import (
    DEAL,
    VALID,
    click,
    open_form,
    submit,
    submitted_handoff,
    won_and_dm,
)
from tests.support.fake_slack import FakeSlack
from tests.support.slack_state import state_from_values
from tests.support.stub_server import Reply

SALES_MANAGER = "U0SALESMGR"
SELLER_2 = "U0SELLER2"
OUTSIDER = "U0OUTSIDER"


def two_sellers(make_harness: Callable[..., Harness]) -> Harness:
    """Sales has two members; SELLER_2 is matched by the email other@seller.example."""
    org = org_dict()
    org["teams"]["sales"]["members"]["users"] = [SELLER, SELLER_2]
    slack = FakeSlack(
        users_by_email={"sam@seller.example": SELLER, "other@seller.example": SELLER_2},
        usergroups={"S0OPS": [OPS_MEMBER]},
    )
    return make_harness(org=parse_org_config(org), slack=slack)


def handoffs(h: Harness) -> list[Handoff]:
    with h.services.uow() as uow:
        return list(uow.session.scalars(select(Handoff)))


def shown(h: Harness) -> str:
    return json.dumps(h.slack.view_calls[-1][1])


def audits(h: Harness, handoff_id: int) -> list[str]:
    with h.services.uow() as uow:
        events = uow.session.scalars(select(AuditEvent).where(AuditEvent.handoff_id == handoff_id))
        return [e.event for e in events]


# --- starting a handoff -------------------------------------------------------------------------


def test_command_on_a_deal_not_yet_won_is_refused_even_to_its_owner(harness: Harness) -> None:
    harness.hubspot.add_deal("700", stage="appointmentscheduled")

    harness.command("700")

    [block] = harness.slack.view_calls[-1][1]["blocks"]
    assert block["text"]["text"] == (
        ":warning: Deal 700 is not won yet, so it has no handoff to start. Move it to won in "
        "HubSpot first; the handoff starts by itself."
    )
    assert handoffs(harness) == []
    assert harness.hubspot.stage_changes == []


def test_command_on_someone_elses_deal_is_refused_to_a_sales_member(
    make_harness: Callable[..., Harness],
) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal("701", owner_email="other@seller.example")

    h.command("701", user_id=SELLER)

    [block] = h.slack.view_calls[-1][1]["blocks"]
    assert block["text"]["text"] == (
        ":warning: Only the deal's owner, the manager of Sales or the admin can start this "
        "deal's handoff."
    )
    assert handoffs(h) == []


def test_shortcut_on_someone_elses_deal_is_refused(make_harness: Callable[..., Harness]) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal("702", owner_email="other@seller.example")
    h.shortcut(user_id=SELLER)
    prompt_id, prompt = next(iter(h.slack.views.items()))
    submission = load_payload("view_submission.json")
    submission["user"] = {"id": SELLER, "username": "s", "team_id": "T111"}
    state = {"deal_reference": {"value": {"type": "plain_text_input", "value": "702"}}}
    submission["view"] = {
        **submission["view"],
        **prompt,
        "id": prompt_id,
        "state": {"values": state},
    }

    h.interact(submission)

    assert "Only the deal's owner" in json.dumps(h.slack.views[prompt_id])
    assert handoffs(h) == []


def test_command_by_owner_manager_and_admin_starts_the_handoff(
    make_harness: Callable[..., Harness],
) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal("703", owner_email="other@seller.example")
    h.hubspot.add_deal("704", owner_email="other@seller.example", stage="4242")
    h.hubspot.add_deal("705", owner_email="other@seller.example")

    h.command("703", user_id=SELLER_2)  # the owner
    h.command("704", user_id=SALES_MANAGER)  # pending stage, the sending team's manager
    h.command("705", user_id=ADMIN)

    senders = {x.deal_id: x.sender_user_id for x in handoffs(h)}
    assert senders == {"703": SELLER_2, "704": SALES_MANAGER, "705": ADMIN}


def test_form_submitted_for_a_deal_lost_meanwhile_does_not_move_it_to_won(
    harness: Harness,
) -> None:
    handoff_id, _ = won_and_dm(harness)
    assert harness.hubspot.stage_changes == [(DEAL, "4242")]  # held
    harness.hubspot.set_stage(DEAL, "closedlost")  # lost meanwhile

    view_id, view = open_form(harness, handoff_id)
    submit(harness, view_id, view, VALID)
    harness.drain()

    assert harness.hubspot.deals[DEAL]["properties"]["dealstage"] == "closedlost"
    assert harness.hubspot.stage_changes == [(DEAL, "4242")]
    assert "release_skipped" in audits(harness, handoff_id)


# --- the form -----------------------------------------------------------------------------------


def test_admin_and_manager_can_open_and_submit_a_pending_handoff(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)

    click(harness, "open_form", str(handoff_id), user=ADMIN)
    assert "to complete" not in json.dumps(list(harness.slack.views.values())[-1])

    click(harness, "open_form", str(handoff_id), user=SALES_MANAGER)
    view_id = list(harness.slack.views)[-1]
    view = harness.slack.views[view_id]
    assert "to complete" not in json.dumps(view)
    submit(harness, view_id, view, VALID, user=SALES_MANAGER)

    [handoff] = handoffs(harness)
    assert handoff.status != HandoffStatus.AWAITING_FORM
    assert handoff.sender_user_id == SELLER  # still the salesperson's handoff


def test_submit_and_draft_from_someone_else_are_refused_server_side(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    view_id, view = open_form(harness, handoff_id)  # the seller's form, replayed by another

    response = submit(harness, view_id, view, VALID, user=OPS_MEMBER)

    body = json.loads(response.body)
    assert body["response_action"] == "update"
    assert body["view"]["blocks"][0]["text"]["text"] == (
        f":warning: This handoff is <@{SELLER}>'s to complete. Ask them, or an admin, to "
        "reassign it."
    )
    closed = load_payload("view_closed.json")  # closing it stores a draft, when allowed
    closed["user"] = {"id": OPS_MEMBER, "username": "o", "team_id": "T111"}
    closed["view"] = {
        **closed["view"],
        **view,
        "id": view_id,
        "state": {"values": state_from_values(view, {"why_they_bought": "Overwritten"})},
    }
    assert harness.interact(closed).status == 200

    [handoff] = handoffs(harness)
    assert handoff.status == HandoffStatus.AWAITING_FORM
    assert handoff.draft_payload is None
    assert "draft_saved" not in audits(harness, handoff_id)


# --- reassigning --------------------------------------------------------------------------------


def test_manager_reassigns_a_pending_handoff_to_another_member(
    make_harness: Callable[..., Harness],
) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal(DEAL)
    h.hubspot_webhook([won_event(DEAL, 1)])
    [handoff] = handoffs(h)

    h.command(f"reassign {handoff.id} <@{SELLER_2}|other>", user_id=SALES_MANAGER)
    h.drain()

    [moved] = handoffs(h)
    assert moved.sender_user_id == SELLER_2
    [dm] = h.slack.dms_to(SELLER_2)
    assert dm.blocks[1]["elements"][0]["value"] == str(handoff.id)
    with h.services.uow() as uow:
        forms = uow.session.scalars(
            select(Obligation).where(Obligation.sla == "form", Obligation.closed_at.is_(None))
        ).all()
    assert [(o.owner_user_id, o.subject) for o in forms] == [(SELLER_2, SELLER_2)]
    # The previous salesperson can no longer submit; the new one can.
    click(h, "open_form", str(handoff.id), user=SELLER)
    assert "to complete" in json.dumps(list(h.slack.views.values())[-1])
    view_id, view = open_form_as(h, handoff.id, SELLER_2)
    submit(h, view_id, view, VALID, user=SELLER_2)
    assert handoffs(h)[0].status != HandoffStatus.AWAITING_FORM


def test_a_handoff_reassigned_back_is_chased_again_for_its_first_owner(
    make_harness: Callable[..., Harness],
) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal(DEAL)
    h.hubspot_webhook([won_event(DEAL, 1)])
    [handoff] = handoffs(h)
    h.drain()

    h.command(f"reassign {handoff.id} <@{SELLER_2}|other>", user_id=SALES_MANAGER)
    h.command(f"reassign {handoff.id} <@{SELLER}|sam>", user_id=SALES_MANAGER)
    h.drain()

    assert handoffs(h)[0].sender_user_id == SELLER
    with h.services.uow() as uow:
        forms = uow.session.scalars(
            select(Obligation).where(Obligation.sla == "form", Obligation.closed_at.is_(None))
        ).all()
    # The form is owed again, by the seller, with its reminders and escalation still to come.
    assert [(o.owner_user_id, o.subject, o.step) for o in forms] == [(SELLER, SELLER, 0)]
    assert len(h.slack.dms_to(SELLER)) == 2  # the first request and the one handing it back


def open_form_as(h: Harness, handoff_id: int, user: str) -> tuple[str, dict[str, object]]:
    click(h, "open_form", str(handoff_id), user=user)
    view_id = list(h.slack.views)[-1]
    return view_id, h.slack.views[view_id]


def test_reassign_by_a_salesperson_is_refused(make_harness: Callable[..., Harness]) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal(DEAL)
    h.hubspot_webhook([won_event(DEAL, 1)])
    [handoff] = handoffs(h)

    response = h.command(f"reassign {handoff.id} <@{SELLER_2}>", user_id=SELLER)

    assert "Only the admin or the manager" in (response.body or "")
    assert handoffs(h)[0].sender_user_id == SELLER


# --- reminders ----------------------------------------------------------------------------------


def test_snooze_by_someone_outside_the_team_is_refused(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    view_id, view = open_form(harness, handoff_id)
    submit(harness, view_id, view, VALID)
    with harness.services.uow() as uow:
        ob = uow.session.scalars(
            select(Obligation).where(Obligation.sla == "confirm", Obligation.team == "finance")
        ).one()
        ob_id = ob.id

    snooze(harness, ob_id, OUTSIDER)
    snooze(harness, ob_id, OPS_MEMBER)  # another team's member

    assert [r["text"] for r in harness.slack.responses] == [
        "Only members of Finance or its manager can snooze this reminder."
    ] * 2
    with harness.services.uow() as uow:
        ob = uow.session.get(Obligation, ob_id)
        assert ob is not None and ob.snoozed_until is None and not ob.detail.get("snoozed_by")

    snooze(harness, ob_id, "U0FINMGR")  # the team's manager
    with harness.services.uow() as uow:
        ob = uow.session.get(Obligation, ob_id)
        assert ob is not None and ob.detail.get("snoozed_by") == "U0FINMGR"


def snooze(h: Harness, obligation_id: int, user: str) -> None:
    payload = load_payload("block_actions.message_button.json")
    payload["user"] = {"id": user, "username": user, "team_id": "T111"}
    payload["response_url"] = h.slack.response_url
    payload["actions"] = [
        {
            "type": "button",
            "action_id": "snooze_reminder",
            "block_id": "b",
            "value": str(obligation_id),
            "text": {"type": "plain_text", "text": "Snooze"},
            "action_ts": "1.2",
        }
    ]
    assert h.interact(payload).status == 200


# --- found alive by ./scripts/mutation: the exact refusals people read --------------------------
# Mutants left alive are equivalent:
# - `is_manager` looks a team up by `team_key or ""`: with no key, "" and any other fallback
#   ("XXXX") find no team alike.
# - `may_snooze` names the team `obligation.team or ""`, but every obligation is opened with its
#   team (see the callers of ObligationBook.open), so that fallback never reaches anyone.
# - `may_edit`'s "already submitted" answer: every caller checks the status first and answers
#   for itself (the form listener, HandoffService.submit/save_draft/start_manual), so it is a
#   second line that no request reaches today.
# - `ListedMembers.team_name` of a team not in the organisation file: the app always gives the
#   services the TeamDirectory; ListedMembers only backs services built from the file alone,
#   whose callers name the file's teams.


def test_reassign_refusals_name_the_team_and_change_nothing(
    make_harness: Callable[..., Harness],
) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal(DEAL)
    h.hubspot_webhook([won_event(DEAL, 1)])
    [handoff] = handoffs(h)

    by_seller = h.command(f"reassign {handoff.id} <@{SELLER_2}>", user_id=SELLER)
    to_outsider = h.command(f"reassign {handoff.id} <@{OUTSIDER}>", user_id=SALES_MANAGER)

    assert by_seller.body == "Only the admin or the manager of Sales can reassign a handoff."
    assert to_outsider.body == f"<@{OUTSIDER}> is not a member of Sales; pick someone who is."
    assert handoffs(h)[0].sender_user_id == SELLER


def test_admin_reassigns_to_the_sales_manager_but_not_once_submitted(
    make_harness: Callable[..., Harness],
) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal(DEAL)
    h.hubspot_webhook([won_event(DEAL, 1)])
    [handoff] = handoffs(h)

    h.command(f"reassign {handoff.id} <@{SALES_MANAGER}>", user_id=ADMIN)  # not a listed member
    assert handoffs(h)[0].sender_user_id == SALES_MANAGER
    view_id, view = open_form_as(h, handoff.id, SALES_MANAGER)
    submit(h, view_id, view, VALID, user=SALES_MANAGER)
    late = h.command(f"reassign {handoff.id} <@{SELLER_2}>", user_id=ADMIN)

    assert late.body == "This handoff was already submitted; there is nothing to reassign."
    assert handoffs(h)[0].sender_user_id == SALES_MANAGER


# --- amending -----------------------------------------------------------------------------------


def test_amend_refusals_say_why_for_a_pending_a_cancelled_and_an_unowned_handoff(
    harness: Harness,
) -> None:
    handoff_id, _ = won_and_dm(harness)
    click(harness, "amend_handoff", str(handoff_id))  # the form is not submitted yet
    view_id, view = open_form(harness, handoff_id)
    submit(harness, view_id, view, VALID)
    set_handoff(harness, handoff_id, status=HandoffStatus.CANCELLED)  # by hand, in the database
    click(harness, "amend_handoff", str(handoff_id))
    set_handoff(harness, handoff_id, status=HandoffStatus.SUBMITTED, sender_user_id=None)
    click(harness, "amend_handoff", str(handoff_id), user=OPS_MEMBER)

    assert [(e.user, e.text) for e in harness.slack.ephemerals] == [
        (SELLER, "This handoff has not been submitted yet: complete the form instead."),
        (SELLER, "This handoff was cancelled; there is nothing to amend."),
        (
            OPS_MEMBER,
            "Only its salesperson or an admin can amend this handoff. Ask in the thread instead.",
        ),
    ]
    assert harness.services.amendments.versions(handoff_id) == []


def set_handoff(h: Harness, handoff_id: int, **fields: object) -> None:
    with h.services.uow() as uow:
        handoff = uow.session.get(Handoff, handoff_id)
        assert handoff is not None
        for name, value in fields.items():
            setattr(handoff, name, value)
        uow.commit()


# --- confirming, and who counts as a team member ------------------------------------------------


def test_confirm_refusal_names_the_team_and_points_to_the_thread(harness: Harness) -> None:
    handoff_id, _ = submitted_handoff(harness)

    click(harness, "confirm_handoff:finance", f"{handoff_id}:finance", user=OPS_MEMBER)

    [note] = harness.slack.ephemerals
    assert (note.user, note.text) == (
        OPS_MEMBER,
        "Only members of Finance can confirm for Finance. "
        "Ask your question in the thread instead — nothing was changed.",
    )


def test_someone_added_to_the_ops_user_group_may_confirm_within_five_minutes(
    harness: Harness,
) -> None:
    newcomer = "U0OPSNEW"
    handoff_id, _ = submitted_handoff(harness)
    click(harness, "confirm_handoff:ops", f"{handoff_id}:ops", user=newcomer)  # not yet a member
    harness.slack.usergroups["S0OPS"].append(newcomer)  # added in Slack just after

    harness.clock.advance(minutes=4, seconds=59)
    click(harness, "confirm_handoff:ops", f"{handoff_id}:ops", user=newcomer)
    assert confirmed_by(harness, handoff_id, "ops") is None  # Slack is asked every 5 minutes
    harness.clock.advance(seconds=1)
    click(harness, "confirm_handoff:ops", f"{handoff_id}:ops", user=newcomer)

    assert confirmed_by(harness, handoff_id, "ops") == newcomer
    assert [e.user for e in harness.slack.ephemerals] == [newcomer, newcomer]


def confirmed_by(h: Harness, handoff_id: int, team: str) -> str | None:
    with h.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None
        receipt = handoff.receipt(team)
        return receipt.confirmed_by if receipt and receipt.confirmed_at else None


def test_with_hubspot_down_the_sales_team_may_start_a_deal_and_others_may_not(
    harness: Harness,
) -> None:
    """The deal's owner cannot be looked up, so the sending team's members decide, as before."""
    down = Reply(503, {"status": "error", "message": "Service Unavailable"})

    harness.hubspot.fail_next = [down] * 20
    harness.command("900", user_id=OPS_MEMBER)
    refusal = harness.slack.view_calls[-1][1]["blocks"][0]["text"]["text"]
    harness.hubspot.fail_next = [down] * 20
    harness.command("900", user_id=SELLER)

    assert refusal == ":warning: Only members of Sales start this kind of handoff."
    assert [(x.deal_id, x.sender_user_id) for x in handoffs(harness)] == [("900", SELLER)]


def test_a_handoff_nobody_is_assigned_is_claimed_by_command_not_opened_by_its_button(
    make_harness: Callable[..., Harness],
) -> None:
    h = two_sellers(make_harness)
    h.hubspot.add_deal(DEAL, owner_email="left@seller.example")  # no Slack user any more
    h.hubspot_webhook([won_event(DEAL, 1)])
    [handoff] = handoffs(h)
    assert handoff.sender_user_id is None

    click(h, "open_form", str(handoff.id), user=SELLER_2)

    [block] = h.slack.view_calls[-1][1]["blocks"]
    assert block["text"]["text"] == (
        ":warning: This handoff is its salesperson's to complete. "
        "Ask them, or an admin, to reassign it."
    )


def test_a_team_of_listed_people_is_mentioned_one_by_one_in_the_thread(
    make_harness: Callable[..., Harness],
) -> None:
    org = org_dict()
    org["teams"]["finance"]["members"]["users"] = [FIN_MEMBER, "U0FIN2"]
    h = make_harness(org=parse_org_config(org))
    _, handoff = submitted_handoff(h)

    [announce] = [m for m in h.slack.messages if m.thread_ts == handoff.thread_ts]
    assert announce.text.startswith(
        f"<!subteam^S0OPS> <@{FIN_MEMBER}> <@U0FIN2> a new handoff is waiting for you"
    )


def test_a_stale_confirm_button_for_a_team_no_longer_in_the_org_file_is_refused(
    harness: Harness,
) -> None:
    handoff_id, _ = submitted_handoff(harness)

    click(harness, "confirm_handoff:legal", f"{handoff_id}:legal", user=OPS_MEMBER)

    [note] = harness.slack.ephemerals
    assert note.text.startswith("Only members of legal can confirm for legal.")
