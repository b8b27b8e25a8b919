"""/handoff and the global shortcut: manual starts for CRMs or pipelines without webhooks."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from storage.models import Handoff
from tests.bot.conftest import OPS_MEMBER, SELLER, Harness, load_payload, won_event
from tests.bot.test_handoff_flow import submitted_handoff
from tests.support.slack_state import initial_values


def test_command_help_answers_inline(harness: Harness) -> None:
    response = harness.command("help")

    assert response.status == 200
    assert "/handoff <HubSpot deal id or URL>" in response.body


def test_command_with_deal_url_opens_loading_then_prefilled_form(harness: Harness) -> None:
    harness.hubspot.add_deal("555", name="Initech support", company="Initech")

    response = harness.command("https://app.hubspot.com/contacts/48975575/record/0-3/555")

    assert response.status == 200
    methods = [method for method, _ in harness.slack.view_calls]
    assert methods[0] == "views.open"
    assert methods[-1] == "views.update"
    form = harness.slack.view_calls[-1][1]
    assert form["callback_id"] == "handoff_form.sales_to_delivery"
    assert initial_values(form)["account_name"] == "Initech"
    with harness.services.uow() as uow:
        handoff = uow.session.scalars(select(Handoff)).one()
    assert (handoff.deal_id, handoff.sender_user_id) == ("555", SELLER)
    assert harness.hubspot.stage_changes == []  # manual starts do not hold the deal
    assert harness.slack.problems == []


def test_command_twice_reopens_the_same_handoff(harness: Harness) -> None:
    harness.hubspot.add_deal("556")

    harness.command("556")
    harness.command("556")

    with harness.services.uow() as uow:
        assert len(list(uow.session.scalars(select(Handoff)))) == 1


def test_command_unknown_deal_says_so_and_creates_nothing(harness: Harness) -> None:
    harness.command("424242")

    shown = json.dumps(harness.slack.view_calls[-1][1])
    assert "HubSpot has no deal 424242" in shown
    with harness.services.uow() as uow:
        assert list(uow.session.scalars(select(Handoff))) == []


def test_command_junk_reference_is_explained(harness: Harness) -> None:
    harness.command("the big acme deal")

    assert "is not a HubSpot deal id or deal URL" in json.dumps(harness.slack.view_calls[-1][1])


def test_command_stats_replies_with_figures_to_a_manager(harness: Harness) -> None:
    harness.hubspot.add_deal("560")
    harness.hubspot_webhook([won_event("560", 1)])

    response = harness.command("stats", user_id="U0SALESMGR")

    assert response.status == 200
    [reply] = harness.slack.responses
    assert reply["response_type"] == "ephemeral"
    shown = json.dumps(reply["blocks"])
    assert "*Sales*" in shown
    assert "1 opened" in shown
    assert harness.slack.problems == []


def test_command_stats_csv_lands_in_the_managers_dm(harness: Harness) -> None:
    harness.command("stats csv", user_id="U0OPSMGR")

    [upload] = harness.slack.files
    assert upload["filename"] == "handoff-health.csv"
    assert upload["channel"] == "D-U0OPSMGR"
    assert "in your DMs" in harness.slack.responses[0]["text"]


def test_command_stats_is_refused_to_someone_who_manages_no_team(harness: Harness) -> None:
    harness.command("stats", user_id=SELLER)

    [reply] = harness.slack.responses
    assert "for team managers and the admin" in reply["text"]
    assert harness.slack.files == []


def test_shortcut_asks_for_deal_then_opens_form(harness: Harness) -> None:
    harness.hubspot.add_deal("557", company="Umbrella")

    harness.shortcut()
    prompt_id, prompt = next(iter(harness.slack.views.items()))
    assert prompt["callback_id"] == "start_handoff_modal"
    [field] = prompt["blocks"]
    assert (field["type"], field["block_id"], field["label"]["text"]) == (
        "input",
        "deal_reference",
        "HubSpot deal",
    )
    assert harness.slack.problems == []  # the prompt passed Slack's Block Kit checks

    submission = load_payload("view_submission.json")
    submission["user"] = {"id": SELLER, "username": "s", "team_id": "T111"}
    state: dict[str, Any] = {
        "deal_reference": {"value": {"type": "plain_text_input", "value": "557"}}
    }
    submission["view"] = {
        **submission["view"],
        **prompt,
        "id": prompt_id,
        "state": {"values": state},
    }
    response = harness.interact(submission)

    assert json.loads(response.body)["response_action"] == "update"  # the loading view
    form = harness.slack.views[prompt_id]
    assert form["callback_id"] == "handoff_form.sales_to_delivery"
    assert initial_values(form)["account_name"] == "Umbrella"


def test_shortcut_bad_reference_is_an_error_next_to_the_field(harness: Harness) -> None:
    harness.shortcut()
    prompt_id, prompt = next(iter(harness.slack.views.items()))
    submission = load_payload("view_submission.json")
    submission["user"] = {"id": SELLER, "username": "s", "team_id": "T111"}
    state = {"deal_reference": {"value": {"type": "plain_text_input", "value": "acme"}}}
    submission["view"] = {
        **submission["view"],
        **prompt,
        "id": prompt_id,
        "state": {"values": state},
    }

    body = json.loads(harness.interact(submission).body)

    assert body == {
        "response_action": "errors",
        "errors": {"deal_reference": "Paste a HubSpot deal id (digits) or the deal's URL."},
    }


def test_slack_request_with_bad_signature_is_refused(harness: Harness) -> None:
    from slack_bolt.request import BoltRequest

    body = "token=x&command=%2Fhandoff&text=help&user_id=U1"
    request = BoltRequest(
        body=body,
        headers={
            "content-type": ["application/x-www-form-urlencoded"],
            "x-slack-signature": ["v0=" + "0" * 64],
            "x-slack-request-timestamp": ["1531420618"],
        },
    )

    response = harness.app.dispatch(request)

    assert response.status == 401
    assert harness.slack.view_calls == []


def _open_home(harness: Harness, user: str, ts: str) -> str:
    harness.event({"type": "app_home_opened", "user": user, "tab": "home", "ts": ts})
    return json.dumps(harness.slack.homes[user])


def test_command_stats_and_home_show_team_names_not_keys(harness: Harness) -> None:
    submitted_handoff(harness)

    harness.command("stats", user_id="U0OPSMGR")

    shown = json.dumps(harness.slack.responses[-1]["blocks"])
    assert "*Operations*" in shown and "*ops*" not in shown
    assert "*Operations*" in _open_home(harness, "U0OPSMGR", "1700000301.000100")
    assert "Waiting for *Operations* to confirm" in _open_home(
        harness, OPS_MEMBER, "1700000302.000100"
    )
    assert harness.slack.problems == []
