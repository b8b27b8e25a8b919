"""The conversation stays joined: thread questions and answers are mirrored onto the records.

Asana gets stories on the project's conversation task, Jira issue comments, Xero history notes on
the repeating invoice; QuickBooks has nowhere to put them. Authors appear by name, with the time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.services import actions
from storage.models import ThreadMessage
from tests.bot.conftest import HANDOFF_CHANNEL, OPS_MEMBER, SELLER, Harness
from tests.bot.test_delivery import Crash, World, WorldFactory, world_factory
from tests.support.fake_asana import Fault
from tests.support.fake_jira import adf_text
from tests.support.stub_server import Reply

ASKED_AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
ANSWERED_AT = datetime(2026, 11, 24, 9, 45, tzinfo=UTC)
QUESTION = (
    "Can <@U0SELLER> say who grants VPN access? Their IT page "
    "<https://acme.example/it|says> &lt;ask Kim&gt; &amp; nothing more"
)
QUESTION_PLAIN = (
    "Can Sam Seller say who grants VPN access? Their IT page "
    "says (https://acme.example/it) <ask Kim> & nothing more"
)
ANSWER = "Kim, their IT lead: kim@acme.example"


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


def say(world: World, handoff_id: int, user: str, text: str, at: datetime) -> dict[str, Any]:
    """Post `text` in the handoff's thread as `user` at `at`; returns the event (to redeliver)."""
    world.h.clock.now = at
    ts = f"{int(at.timestamp())}.000100"
    event = {
        "type": "message",
        "channel": HANDOFF_CHANNEL,
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": world.handoff(handoff_id).thread_ts,
        "parent_user_id": "UBOT",
        "event_ts": ts,
        "channel_type": "channel",
    }
    assert world.h.event(event).status == 200
    return event


def converse(world: World, handoff_id: int) -> None:
    """An ops member asks, Slack redelivers the question, the seller answers."""
    question = say(world, handoff_id, OPS_MEMBER, QUESTION, ASKED_AT)
    world.h.event(question, retry_num=1)
    say(world, handoff_id, SELLER, ANSWER, ANSWERED_AT)


def mirrored(world: World) -> list[dict[str, Any]]:
    with world.h.services.uow() as uow:
        messages = uow.session.scalars(select(ThreadMessage).order_by(ThreadMessage.id))
        return [dict(m.mirrored) for m in messages]


def conversation_stories(world: World, handoff_id: int) -> list[str]:
    detail = world.record(handoff_id, "ops").detail or {}
    return [s["text"] for s in world.asana.stories.get(detail["extra_ids"][0], [])]


def test_thread_mirrors_to_asana_stories_and_records_quickbooks_as_unsupported(
    worlds: WorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    handoff_id = world.submit()
    world.settle()
    quickbooks_calls = len(world.servers["quickbooks"].requests)

    converse(world, handoff_id)
    world.settle()

    asked, answered = conversation_stories(world, handoff_id)
    assert asked == (
        f"Dana Smith wrote in Slack at 2026-11-24 09:30 UTC:\n{QUESTION_PLAIN}\n\n"
        f"(ref: slack-{int(ASKED_AT.timestamp())}.000100)"
    )
    assert answered.startswith(f"Sam Seller wrote in Slack at 2026-11-24 09:45 UTC:\n{ANSWER}")
    assert len(world.servers["quickbooks"].requests) == quickbooks_calls  # nothing sent
    assert [m["finance"] for m in mirrored(world)] == ["unsupported", "unsupported"]
    assert all(m["ops"] for m in mirrored(world))


def test_thread_mirrors_to_jira_comments_and_xero_history(worlds: WorldFactory) -> None:
    world = worlds("jira", "xero")
    handoff_id = world.submit()
    world.settle()

    converse(world, handoff_id)
    world.settle()

    asked, answered = (adf_text(c["body"]) for c in world.jira.comments["OPS-1"])
    assert "Dana Smith wrote in Slack at 2026-11-24 09:30 UTC:" in asked
    assert QUESTION_PLAIN in asked
    assert "Sam Seller wrote in Slack at 2026-11-24 09:45 UTC:" in answered and ANSWER in answered
    [repeating_id] = world.xero.repeating
    notes = [h["Details"] for h in world.xero.history[repeating_id]]
    assert notes[-2:] == [
        f"Dana Smith (2026-11-24T09:30+00:00): {QUESTION_PLAIN}",
        f"Sam Seller (2026-11-24T09:45+00:00): {ANSWER}",
    ]
    assert [sorted(m) for m in mirrored(world)] == [["finance", "ops"], ["finance", "ops"]]


def test_thread_message_before_the_record_exists_is_mirrored_once_it_does(
    worlds: WorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    limited = Reply(429, {"errors": [{"message": "Too many requests"}]}, {"Retry-After": "3600"})
    world.asana.faults.append(Fault("POST", r"/workspaces/\d+/projects", limited, act=False))
    handoff_id = world.submit()
    world.run_until(lambda: world.handoff(handoff_id).thread_ts is not None)

    asked_at = world.h.clock.now
    say(world, handoff_id, OPS_MEMBER, "<!here> Is the kickoff date firm &amp; final?", asked_at)
    world.h.drain()
    assert world.record(handoff_id, "ops").status == "pending"
    assert mirrored(world) == [{"finance": "unsupported"}]  # ops waits for its project
    # Shown as an open question on the handoff message, without pinging the channel again.
    assert f"<@{OPS_MEMBER}>: @here Is the kickoff date firm &amp; final?" in world.message(
        handoff_id
    )
    world.settle()

    [story] = conversation_stories(world, handoff_id)
    assert story.startswith(
        f"Dana Smith wrote in Slack at {asked_at:%Y-%m-%d %H:%M} UTC:\n"
        "@here Is the kickoff date firm & final?"
    )
    assert set(mirrored(world)[0]) == {"ops", "finance"}


def test_thread_mirror_repeated_after_a_crash_posts_one_story(
    worlds: WorldFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = worlds("asana", "quickbooks")
    handoff_id = world.submit()
    world.settle()
    effects = world.h.services.effects
    record_mirror = effects._mirrored

    def die_once(*args: Any) -> None:
        monkeypatch.setattr(effects, "_mirrored", record_mirror)
        raise Crash  # the worker dies between Asana's reply and the commit

    monkeypatch.setattr(effects, "_mirrored", die_once)
    say(world, handoff_id, OPS_MEMBER, "Is the kickoff date firm?", ASKED_AT)

    with pytest.raises(Crash):
        world.settle()
    world.h.clock.advance(minutes=6)  # the dead worker's lease runs out
    world.settle()

    [story] = conversation_stories(world, handoff_id)
    assert "Is the kickoff date firm?" in story
    [job] = [
        j for j in world.jobs(handoff_id, actions.MIRROR_COMMENT) if j.payload["target"] == "ops"
    ]
    assert job.uncertain and mirrored(world)[0]["ops"]


def test_thread_reply_before_the_handoff_message_ts_is_stored_is_kept(worlds: WorldFactory) -> None:
    world = worlds("asana", "quickbooks")
    replies: list[dict[str, Any]] = []

    def reply_at_once(posted: Any) -> None:
        # Slack has posted the handoff message; the app has not stored its ts yet.
        if posted.channel == HANDOFF_CHANNEL and posted.thread_ts is None and not replies:
            event = {
                "type": "message",
                "channel": HANDOFF_CHANNEL,
                "user": OPS_MEMBER,
                "text": "Is the kickoff date firm?",
                "ts": "1800000000.000100",
                "thread_ts": posted.ts,
                "parent_user_id": "UBOT",
                "event_ts": "1800000000.000100",
                "channel_type": "channel",
            }
            replies.append(event)
            assert world.h.event(event).status == 200

    world.h.slack.on_post = reply_at_once
    handoff_id = world.submit()
    world.settle()

    assert replies, "the handoff message was never posted"
    [message] = [m for m in world.handoff(handoff_id).messages]
    assert (message.slack_ts, message.is_question) == ("1800000000.000100", True)
    assert "Is the kickoff date firm?" in world.message(handoff_id)
