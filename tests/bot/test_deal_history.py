"""The deal's CRM history travels with the handoff: ops record, View handoff, form, drafts.

Through the real entry points: HubSpot's signed webhook creates the handoff, the outbox reads the
history from the HubSpot stand-in, Slack requests open and submit the form, and the ops tool's
stand-in receives the record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import delete

from bot.config import ConfigError, parse_org_config
from bot.wiring import check_tools
from storage.history_repo import history_entries
from storage.models import HistoryDraft
from tests.bot.conftest import (
    FIN_MEMBER,
    OPS_MEMBER,
    SELLER,
    Harness,
    load_payload,
    org_dict,
    won_event,
)
from tests.bot.test_delivery import World, WorldFactory, world_factory
from tests.bot.test_handoff_flow import DEAL, VALID, click, open_form, submit, submit_one
from tests.support import fake_asana
from tests.support.fake_chat import API_KEY, FakeChat, json_answer
from tests.support.fake_hubspot import FakeHubSpot
from tests.support.fake_jira import adf_text, assert_valid_adf, link_targets
from tests.support.slack_state import initial_values

PORTAL = "48975575"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


def seed_history(hubspot: FakeHubSpot) -> dict[str, str]:
    """A note and a call on the deal, a meeting on its company, an email on a contact."""
    hubspot.owners["777"] = {"id": "777", "email": "kim@seller.example", "firstName": "Kim"}
    company = hubspot.company_of(DEAL)
    contact = hubspot.contacts_of(DEAL)[0]
    return {
        "note": hubspot.add_engagement(
            "notes",
            on=(("deals", DEAL),),
            timestamp="2026-11-03T09:00:00Z",
            hs_note_body="<p>Budget approved by the <b>CFO</b>.</p><p>" + "Detail. " * 80 + "</p>",
        ),
        "call": hubspot.add_engagement(
            "calls",
            on=(("deals", DEAL),),
            timestamp="2026-11-10T15:00:00Z",
            owner_id="777",
            hs_call_title="Scoping call",
            hs_call_body="Month-end reporting must take under two hours.",
        ),
        "meeting": hubspot.add_engagement(
            "meetings",
            on=(("companies", company),),
            timestamp="2026-11-12T10:00:00Z",
            hs_meeting_title="Kickoff planning",
            hs_meeting_body="Weekly status on Fridays.",
        ),
        "email": hubspot.add_engagement(
            "emails",
            on=(("contacts", contact),),
            timestamp="2026-11-14T08:00:00Z",
            hs_email_subject="Re: signed contract",
            hs_email_text="My home address is 1 Private Road.",
        ),
    }


def win(h: Harness) -> int:
    """Add the deal and its history to HubSpot, win it through the webhook, run the outbox."""
    h.hubspot.add_deal(DEAL, contacts=({"firstname": "Dana", "email": "dana@acme.example"},))
    seed_history(h.hubspot)
    h.hubspot_webhook([won_event(DEAL, 1)])
    h.drain()
    [dm] = h.slack.dms_to(SELLER)
    return int(dm.blocks[1]["elements"][0]["value"])


def history_org(**history: Any) -> dict[str, Any]:
    raw = org_dict()
    raw["hubspot"]["history"] = history
    return raw


def view_handoff(h: Harness, handoff_id: int) -> dict[str, Any]:
    click(h, "view_handoff", str(handoff_id), user=FIN_MEMBER)
    return dict(list(h.slack.views.values())[-1])


def world_submit(world: World) -> int:
    handoff_id = win(world.h)
    view_id, view = open_form(world.h, handoff_id)
    response = submit(world.h, view_id, view, VALID)
    assert response.status == 200, response.body
    world.settle()
    return handoff_id


# --- part 1: the history in the ops record and the View handoff ---------------------------------


def test_history_asana_project_lists_entries_cited_newest_first(worlds: WorldFactory) -> None:
    world = worlds("asana", "quickbooks")

    handoff_id = world_submit(world)

    project = world.record(handoff_id, "ops")
    [create] = world.requests("asana", "POST", f"/workspaces/{fake_asana.WORKSPACE}/projects")
    html = create.json["data"]["html_notes"]
    notes = world.asana.projects[project.external_id or ""]["notes"]
    assert "Deal history" in notes
    meeting = notes.index("[1] Meeting · 2026-11-12 · Sam Seller — Kickoff planning")
    call = notes.index("[2] Call · 2026-11-10 · Kim — Scoping call")
    note = notes.index("[3] Note · 2026-11-03 · Sam Seller — Budget approved by the CFO.")
    assert meeting < call < note
    company = world.h.hubspot.company_of(DEAL)
    assert f'href="https://app.hubspot.com/contacts/{PORTAL}/record/0-2/{company}"' in html
    assert f'href="https://app.hubspot.com/contacts/{PORTAL}/record/0-3/{DEAL}"' in html
    assert ">full record in HubSpot</a>" in html  # the long note is trimmed, linked in full
    assert "Re: signed contract" not in notes  # emails are off by default
    fake_asana.assert_requests_match_spec(world.servers["asana"])
    # Finance's tool gets no history.
    assert "Scoping call" not in dumps(world.qbo.recurring)


def test_history_jira_issue_lists_entries_with_links(worlds: WorldFactory) -> None:
    world = worlds("jira", "xero")

    world_submit(world)

    [issue] = world.jira.issues.values()
    description = issue["fields"]["description"]
    assert_valid_adf(description)
    seen = adf_text(description)
    assert "Deal history" in seen
    assert "[2] Call · 2026-11-10 · Kim" in seen and "Scoping call" in seen
    assert f"https://app.hubspot.com/contacts/{PORTAL}/record/0-3/{DEAL}" in link_targets(
        description
    )


def test_history_view_handoff_lists_entries_with_dates_authors_links(harness: Harness) -> None:
    handoff_id = win(harness)
    view_id, view = open_form(harness, handoff_id)
    submit(harness, view_id, view, VALID)

    shown = dumps(view_handoff(harness, handoff_id))

    assert "Deal history" in shown
    for expected in (
        "[1] Meeting · 2026-11-12 · Sam Seller",
        "Kickoff planning",
        "[2] Call · 2026-11-10 · Kim",
        "Month-end reporting must take under two hours.",
        "[3] Note · 2026-11-03 · Sam Seller",
        f"<https://app.hubspot.com/contacts/{PORTAL}/record/0-3/{DEAL}|open in HubSpot>",
        "Entries 1 to 3 of 3",
    ):
        assert expected in shown, expected
    assert "Re: signed contract" not in shown
    assert harness.slack.problems == []


def test_history_view_handoff_pages_long_histories(harness: Harness) -> None:
    harness.hubspot.add_deal(DEAL)
    for day in range(1, 13):
        harness.hubspot.add_engagement(
            "notes",
            on=(("deals", DEAL),),
            timestamp=f"2026-11-{day:02d}T09:00:00Z",
            hs_note_body=f"Note of day {day}",
        )
    harness.hubspot_webhook([won_event(DEAL, 1)])
    [dm] = harness.slack.dms_to(SELLER)
    handoff_id = int(dm.blocks[1]["elements"][0]["value"])
    view_id, view = open_form(harness, handoff_id)
    submit(harness, view_id, view, VALID)
    first = view_handoff(harness, handoff_id)
    [pages] = [b for b in first["blocks"] if b.get("block_id") == "history_pages"]
    [older] = pages["elements"]

    payload = load_payload("block_actions.message_button.json")
    payload["user"] = {"id": FIN_MEMBER, "username": FIN_MEMBER, "team_id": "T111"}
    payload["container"] = {"type": "view", "view_id": list(harness.slack.views)[-1]}
    payload["view"] = {**first, "id": list(harness.slack.views)[-1]}
    payload["actions"] = [{**older, "block_id": "history_pages", "action_ts": "1.2"}]
    assert harness.interact(payload).status == 200

    second = dumps(list(harness.slack.views.values())[-1])
    assert "Note of day 12" in dumps(first) and "Note of day 2" not in dumps(first)
    assert "Note of day 2" in second and "Note of day 12" not in second
    assert "Entries 11 to 12 of 12" in second and "Newer" in second
    assert harness.slack.problems == []


def test_history_emails_switch_on_brings_emails(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(org=parse_org_config(history_org(include_emails=True)))

    handoff_id = win(h)

    with h.services.uow() as uow:
        kinds = [row.kind for row in history_entries(uow.session, handoff_id)]
    assert kinds == ["email", "meeting", "call", "note"]
    _, form = open_form(h, handoff_id)
    assert "Email · 2026-11-14 · Sam Seller: Re: signed contract" in dumps(form)


def test_history_emails_switch_off_never_asks_for_emails(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(org=parse_org_config(history_org(include_emails=False, calls=False)))

    handoff_id = win(h)

    with h.services.uow() as uow:
        kinds = [row.kind for row in history_entries(uow.session, handoff_id)]
    assert kinds == ["meeting", "note"]  # calls switched off too
    assert h.hubspot.server is not None
    asked = [r.path for r in h.hubspot.server.requests]
    assert not [p for p in asked if p.endswith(("/emails", "/calls", "emails/batch/read"))]


def test_history_delivery_handoff_carries_what_happened_since_the_sales_handoff(
    harness: Harness,
) -> None:
    sales_id = win(harness)
    view_id, view = open_form(harness, sales_id)
    submit(harness, view_id, view, VALID)  # submitted 2026-11-23 14:00 (the harness clock)
    later = harness.hubspot.add_engagement(
        "meetings",
        on=(("deals", DEAL),),
        timestamp="2027-06-20T10:00:00Z",
        hs_meeting_title="Go-live review",
    )
    harness.clock.advance(days=200)

    harness.command(f"delivery {DEAL}", user_id=OPS_MEMBER)

    with harness.services.uow() as uow:
        delivery = uow.repo.handoff_for_deal("delivery_to_finance", DEAL)
        assert delivery is not None
        sources = [row.source_id for row in history_entries(uow.session, delivery.id)]
    assert sources == [f"meeting:{later}"]  # nothing from before the sales handoff again
    form = list(harness.slack.views.values())[-1]
    assert "Meeting · 2027-06-20 · Sam Seller: Go-live review" in dumps(form)


# --- the form's context list -------------------------------------------------------------------


def test_history_form_shows_what_the_crm_already_says(harness: Harness) -> None:
    handoff_id = win(harness)

    _, view = open_form(harness, handoff_id)

    [context] = [b for b in view["blocks"] if b.get("block_id") == "crm_history"]
    text = context["text"]["text"]
    assert text.startswith("*What the CRM already says*")
    assert "[1] Meeting · 2026-11-12 · Sam Seller: Kickoff planning" in text
    assert "[2] Call · 2026-11-10 · Kim: Scoping call" in text
    assert "[3] Note · 2026-11-03 · Sam Seller: Budget approved by the CFO." in text
    assert initial_values(view).get("why_they_bought") is None  # no drafting configured
    assert harness.slack.problems == []


# --- part 2: drafts from the organisation's own model -------------------------------------------


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat()
    with fake.serving():
        yield fake


def drafting_harness(
    make_harness: Callable[..., Harness], chat: FakeChat, *, timeout: float = 5.0
) -> Harness:
    raw = org_dict(
        drafting={
            "base_url": chat.base_url,
            "model": "house-model",
            "api_key_env": "DRAFTING_API_KEY",
            "timeout_seconds": timeout,
        }
    )
    return make_harness(org=parse_org_config(raw), env={"DRAFTING_API_KEY": API_KEY})


DRAFTED = {
    "why_they_bought": (
        "Month-end reporting must take under two hours [2]. "
        "They also want a mobile app [9]. The CFO is keen."
    ),
    "success_criteria": "Reports in under two hours by day 90 [2].",
    "month_one": "Weekly status on Fridays [1].",
    "promises_made": "",
    "out_of_scope": "Nothing the history supports.",
    "risks": "Budget depends on the CFO [3].",
}


def test_drafting_prefills_essay_fields_with_cited_drafts(
    make_harness: Callable[..., Harness], chat: FakeChat
) -> None:
    chat.answer = json_answer(DRAFTED)
    h = drafting_harness(make_harness, chat)

    handoff_id = win(h)
    asked = len(chat.prompts)
    view_id, view = open_form(h, handoff_id)

    assert asked == 1 and len(chat.prompts) == 1  # drafted by the outbox, not by the form
    shown = initial_values(view)
    # Sentences citing an unknown entry ([9]) or nothing at all are dropped.
    assert shown["why_they_bought"] == "Month-end reporting must take under two hours [2]."
    assert shown["success_criteria"] == "Reports in under two hours by day 90 [2]."
    assert shown["month_one"] == "Weekly status on Fridays [1]."
    assert "promises_made" not in shown and "out_of_scope" not in shown
    # Risks are on the second step: the draft is still there when the salesperson gets to it.
    step_two = json.loads(submit_one(h, view_id, view, {**VALID, **shown}).body)["view"]
    assert initial_values(step_two)["risks"] == "Budget depends on the CFO [3]."
    assert "Drafted from the CRM history" in dumps(view)
    assert h.slack.problems == []
    # Only the history and the field prompts went to the provider.
    [prompt] = chat.prompts
    assert "[1] meeting, 2026-11-12: Kickoff planning" in prompt
    assert "why_they_bought:" in prompt
    for private in ("36000", "sam@seller.example", "Sam Seller", "Kim", "Acme rollout", DEAL):
        assert private not in prompt, private
    assert "Re: signed contract" not in prompt  # emails stay out unless switched on


def test_drafting_view_handoff_marks_answers_that_started_as_drafts(
    make_harness: Callable[..., Harness], chat: FakeChat
) -> None:
    chat.answer = json_answer(DRAFTED)
    h = drafting_harness(make_harness, chat)
    handoff_id = win(h)
    view_id, view = open_form(h, handoff_id)
    kept = initial_values(view)["why_they_bought"]

    submit(h, view_id, view, {**VALID, "why_they_bought": kept})
    shown = dumps(view_handoff(h, handoff_id))

    assert "Started as drafts from the CRM history" in shown
    assert "Why they bought (kept as drafted)" in shown
    assert "Success after 90 days (edited)" in shown


@pytest.mark.parametrize("failure", ["error", "slow"])
def test_drafting_failing_or_slow_provider_leaves_fields_empty_with_a_note(
    make_harness: Callable[..., Harness], chat: FakeChat, failure: str
) -> None:
    chat.answer = json_answer(DRAFTED)
    if failure == "error":
        chat.status = 503
    else:
        chat.delay = 2.0
    h = drafting_harness(make_harness, chat, timeout=0.3)

    handoff_id = win(h)
    _, view = open_form(h, handoff_id)

    shown = initial_values(view)
    assert not any(name in shown for name in DRAFTED)
    text = dumps(view)
    assert "No drafts this time" in text
    expected = "did not answer in time" if failure == "slow" else "answered HTTP 503"
    assert expected in text
    assert "What the CRM already says" in text  # the history itself is still there
    assert view["callback_id"] == "handoff_form.sales_to_delivery"


def test_drafting_not_configured_sends_nothing(
    make_harness: Callable[..., Harness], chat: FakeChat
) -> None:
    h = make_harness()

    handoff_id = win(h)
    open_form(h, handoff_id)

    assert chat.prompts == []
    assert chat.server is not None and chat.server.requests == []


def test_drafting_still_running_opens_the_form_at_once_with_a_note(
    make_harness: Callable[..., Harness], chat: FakeChat
) -> None:
    chat.answer = json_answer(DRAFTED)
    h = drafting_harness(make_harness, chat)
    handoff_id = win(h)
    with h.services.uow() as uow:  # as if the drafting job had not finished yet
        uow.session.execute(delete(HistoryDraft).where(HistoryDraft.handoff_id == handoff_id))
        uow.commit()
    asked = len(chat.prompts)

    _, view = open_form(h, handoff_id)

    assert len(chat.prompts) == asked  # opening the form never waits on the provider
    assert not any(name in initial_values(view) for name in DRAFTED)
    assert "still being written" in dumps(view)


def test_drafting_configured_without_its_key_fails_the_check() -> None:
    raw = org_dict(drafting={"base_url": "https://llm.example/v1", "model": "m"})

    with pytest.raises(ConfigError, match="DRAFTING_API_KEY is not set"):
        check_tools(parse_org_config(raw), {})


def test_drafting_base_url_must_be_http() -> None:
    raw = org_dict(drafting={"base_url": "llm.example", "model": "m"})

    with pytest.raises(ConfigError, match=r"drafting\.base_url: .*http"):
        parse_org_config(raw)
