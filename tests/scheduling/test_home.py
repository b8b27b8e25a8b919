"""The App Home: what is each person's to do, within Block Kit's limits, kept fresh."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot.config import OrgConfig
from bot.services.home import HomeService
from bot.services.outbox import JobContext
from storage.models import Handoff, Obligation, Receipt
from storage.uow import UnitOfWorkFactory
from tests.scheduling.conftest import (
    OPS_GROUP,
    OPS_MANAGER,
    SALESPERSON,
    FakeClock,
    FakeMessenger,
    jobs,
    make_org,
    org_dict,
)
from tests.support.fake_slack import view_problems

NOW = datetime(2026, 1, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def home(
    uow: UnitOfWorkFactory, org: OrgConfig, messenger: FakeMessenger, clock: FakeClock
) -> HomeService:
    clock.set(NOW)
    return HomeService(uow_factory=uow, org=org, messenger=messenger, clock=clock)


def _bulk(uow: UnitOfWorkFactory, n: int, tag: str, **fields: Any) -> list[int]:
    """Insert `n` handoffs like `fields`, won one hour apart; returns their ids."""
    with uow() as u:
        rows = []
        for i in range(n):
            values: dict[str, Any] = {
                "kind": "sales_to_delivery",
                "deal_id": f"{tag}-{i}",
                "account_name": f"{tag.title()} account {i}",
                "sender_user_id": SALESPERSON,
                "receiving_teams": ["ops", "finance"],
                "won_at": NOW - timedelta(days=20) + timedelta(hours=i),
            }
            values.update(fields)
            rows.append(Handoff(**values))
        u.session.add_all(rows)
        u.commit()
        return [h.id for h in rows]


def _obligations(uow: UnitOfWorkFactory, ids: list[int], **fields: Any) -> None:
    with uow() as u:
        for n, hid in enumerate(ids):
            due = NOW - timedelta(hours=len(ids) - n)  # all overdue, oldest first
            values: dict[str, Any] = {"started_at": due - timedelta(hours=4), "due_at": due}
            values.update(fields)
            u.session.add(Obligation(handoff_id=hid, next_action_at=due, **values))
        u.commit()


def _valid(view: dict[str, Any]) -> list[dict[str, Any]]:
    assert view_problems(view) == []
    View(**view).to_dict()  # validates every nested block and element too
    blocks: list[dict[str, Any]] = view["blocks"]
    assert len(blocks) <= 100
    return blocks


def _headers(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "header"]


def _paging(blocks: list[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    """(action id, value) of the paging buttons, per actions block."""
    return [
        [(e["action_id"], e["value"]) for e in b["elements"]]
        for b in blocks
        if b["type"] == "actions" and b["elements"][0]["action_id"].startswith("home_page")
    ]


def _texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for b in blocks:
        if b["type"] in ("section", "header"):
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out.append(b["elements"][0]["text"])
    return "\n".join(out)


def test_home_salesperson_with_150_of_everything_stays_within_100_blocks(
    uow: UnitOfWorkFactory, home: HomeService
) -> None:
    drafts = _bulk(uow, 150, "form", status="awaiting_form", draft_payload={"goals": "x"})
    asked = _bulk(uow, 150, "asked", status="submitted", submitted_at=NOW)
    _obligations(
        uow,
        asked,
        sla="answer",
        subject="msg:1.1",
        owner_user_id=SALESPERSON,
        team="sales",
        detail={"asked_by": "UOPS1", "text_preview": "Which PO number?"},
    )
    _bulk(uow, 150, "done", status="confirmed", completed_at=NOW - timedelta(days=1))
    _bulk(uow, 3, "old", status="confirmed", completed_at=NOW - timedelta(days=30))

    blocks = _valid(home.render(SALESPERSON))
    assert _headers(blocks) == [
        "Your handoffs",
        "To complete (150)",
        "Questions waiting for your answer (150)",
        "Recently completed (150)",
    ]
    first_form = blocks[3]
    assert first_form["accessory"]["action_id"] == "open_form"
    assert first_form["accessory"]["value"] == str(drafts[0])
    assert first_form["accessory"]["text"]["text"] == "Continue"
    text = _texts(blocks)
    assert "Showing 1-12 of 150." in text
    assert "<@UOPS1> asked: _Which PO number?_" in text
    assert "Showing 1-5 of 150." in text
    assert _paging(blocks)[0] == [("home_page_next", "complete:12")]


def test_home_pages_through_a_long_list(uow: UnitOfWorkFactory, home: HomeService) -> None:
    drafts = _bulk(uow, 30, "form", status="awaiting_form")
    second = _valid(home.render(SALESPERSON, {"complete": 12}))
    assert [b["accessory"]["value"] for b in second[3:15]] == [str(i) for i in drafts[12:24]]
    assert _paging(second) == [
        [("home_page_previous", "complete:11"), ("home_page_next", "complete:24")]
    ]
    assert "Showing 13-24 of 30." in _texts(second)
    # Back from page two, and past the end (items done since): both land on a real page.
    assert _paging(_valid(home.render(SALESPERSON, {"complete": 11}))) == [
        [("home_page_next", "complete:12")]
    ]
    last = _valid(home.render(SALESPERSON, {"complete": 500}))
    assert "Showing 25-30 of 30." in _texts(last)
    assert _paging(last) == [[("home_page_previous", "complete:23")]]


def test_home_receiver_sees_the_team_handoffs_to_confirm(
    uow: UnitOfWorkFactory, home: HomeService, messenger: FakeMessenger, clock: FakeClock
) -> None:
    waiting = _bulk(uow, 150, "todo", status="submitted", submitted_at=NOW)
    confirmed = _bulk(uow, 5, "seen", status="delivered", submitted_at=NOW)
    with uow() as u:
        for hid in confirmed:
            u.session.add(Receipt(handoff_id=hid, team="ops", confirmed_at=NOW))
        u.commit()
    _obligations(uow, waiting[:1], sla="confirm", subject="ops", team="ops")

    blocks = _valid(home.render("UOPS1"))
    # The five ops confirmed are in delivery, each with its Delivery complete button.
    assert _headers(blocks) == ["Your handoffs", "To confirm (150)", "In delivery (5)"]
    first = _texts(blocks[3:4])
    assert "Waiting for *Ops* to confirm · :red_circle: overdue since" in first
    assert blocks[3]["accessory"]["action_id"] == "open_handoff"
    assert messenger.group_calls == 1
    home.render("UOPS2")
    assert messenger.group_calls == 1  # the user group is cached for a few minutes
    clock.advance(minutes=6)
    home.render("UOPS1")
    assert messenger.group_calls == 2


def test_home_usergroup_failure_is_not_cached(
    uow: UnitOfWorkFactory,
    home: HomeService,
    messenger: FakeMessenger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _bulk(uow, 2, "todo", status="submitted", submitted_at=NOW)
    calls: list[str] = []
    error = SlackApiError("down", {"ok": False, "error": "service_unavailable"})

    def failing(group: str) -> list[str]:
        calls.append(group)
        raise error

    messenger.usergroup_members = failing  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="bot.services.teams"):
        assert "To confirm" not in _headers(_valid(home.render("UOPS1")))
        home.render("UOPS1")
    assert len(calls) == 2
    # What the operator sees each time: which group, and Slack's answer.
    assert [r.getMessage() for r in caplog.records] == [
        f"usergroup_lookup_failed group={OPS_GROUP} error={error}"
    ] * 2


def test_home_manager_of_everything_with_150_each_stays_within_100_blocks(
    uow: UnitOfWorkFactory, messenger: FakeMessenger, clock: FakeClock
) -> None:
    raw = org_dict()
    for team in raw["teams"].values():
        team["manager"] = SALESPERSON
    raw["teams"]["ops"]["members"] = {"usergroup": "SOPSGROUP", "users": [SALESPERSON]}
    home = HomeService(uow_factory=uow, org=make_org(**raw), messenger=messenger, clock=clock)
    clock.set(NOW)
    forms = _bulk(uow, 150, "form", status="awaiting_form")
    _obligations(
        uow, forms, sla="form", subject=SALESPERSON, owner_user_id=SALESPERSON, team="sales"
    )
    todo = _bulk(uow, 150, "todo", status="submitted", submitted_at=NOW - timedelta(days=3))
    _obligations(uow, todo, sla="confirm", subject="ops", team="ops", step=2)
    asked = _bulk(uow, 150, "asked", status="submitted", submitted_at=NOW)
    _obligations(
        uow, asked, sla="answer", subject="msg:1.1", owner_user_id=SALESPERSON, team="sales"
    )
    _bulk(uow, 150, "done", status="confirmed", completed_at=NOW - timedelta(days=1))

    blocks = _valid(home.render(SALESPERSON))
    assert _headers(blocks) == [
        "Your handoffs",
        "To complete (150)",
        "To confirm (300)",
        "Questions waiting for your answer (150)",
        "Recently completed (150)",
        "Overdue in your teams (450)",
        "Handoff health",
    ]
    text = _texts(blocks)
    assert "*confirmation by Ops* overdue by" in text
    assert "· escalated" in text
    assert blocks[-1]["elements"][0]["action_id"] == "export_stats_csv"


def test_home_manager_sees_figures_and_an_empty_home_says_so(
    uow: UnitOfWorkFactory, home: HomeService
) -> None:
    blocks = _valid(home.render(OPS_MANAGER))
    assert _headers(blocks) == ["Your handoffs", "Handoff health"]
    nobody = _valid(home.render("UNOBODY"))
    assert "Nothing needs you right now." in _texts(nobody)


def test_home_refresh_enqueues_one_publish_per_person(
    uow: UnitOfWorkFactory, home: HomeService
) -> None:
    with uow() as u:
        home.refresh(u.repo, [SALESPERSON, "", SALESPERSON, "UOPS1", "not-a-user"], NOW)
        u.commit()
    published = jobs(uow, "home.publish")
    assert [j.payload for j in published] == [{"user_id": SALESPERSON}, {"user_id": "UOPS1"}]
    assert published[0].idempotency_key == f"home:{SALESPERSON}:{NOW.isoformat()}"


def test_home_publish_handler_skips_a_superseded_job(
    uow: UnitOfWorkFactory, home: HomeService, messenger: FakeMessenger
) -> None:
    with uow() as u:
        home.refresh(u.repo, [SALESPERSON], NOW)
        home.refresh(u.repo, [SALESPERSON], NOW + timedelta(seconds=1))
        u.commit()
    first, second = jobs(uow, "home.publish")

    def ctx(job_id: int) -> JobContext:
        return JobContext(job_id, None, "home.publish", "k", {"user_id": SALESPERSON}, 1, False)

    assert home.publish_handler(ctx(first.id)) == {"superseded_by": second.id}
    assert messenger.homes == {}
    result = home.publish_handler(ctx(second.id))
    assert result is not None
    assert messenger.homes[SALESPERSON]["type"] == "home"
    assert result == {"blocks": len(messenger.homes[SALESPERSON]["blocks"])}
    assert home.handlers() == {"home.publish": home.publish_handler}


def test_home_export_stats_only_for_managers_and_admin(
    home: HomeService, messenger: FakeMessenger
) -> None:
    assert home.export_stats("UOPS1", 6) is False
    assert messenger.posts == [("UOPS1", "Only team managers and the admin can export these.")]
    assert home.export_stats(OPS_MANAGER, 6) is True
    assert home.export_stats("UADMIN", 6) is True
    assert [(channel, name) for channel, name, _ in messenger.uploads] == [
        (OPS_MANAGER, "handoff-health.csv"),
        ("UADMIN", "handoff-health.csv"),
    ]
    assert messenger.uploads[0][2].startswith("team,team_name,month,opened")
