"""Slack's 429s: short waits are honoured in the call, long ones go back to the outbox schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.services import actions
from bot.slack_messenger import make_web_client
from storage.models import OutboxJob
from tests.bot.conftest import HANDOFF_CHANNEL, Harness
from tests.bot.test_handoff_flow import VALID, open_form, submit, won_and_dm
from tests.support.fake_slack import FakeSlack
from tests.support.stub_server import Reply


def limited(seconds: int) -> Reply:
    return Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(seconds)})


def test_slack_short_retry_after_is_waited_out_in_the_call() -> None:
    slack = FakeSlack()
    slept: list[float] = []
    with slack.serving():
        slack.fail_next["chat.postMessage"] = [limited(2)]
        client = make_web_client("xoxb-test", slack.url, sleep=slept.append)

        response = client.chat_postMessage(channel="C1", text="hello")

    assert response["ok"] is True
    assert len(slept) == 1
    assert 2 <= slept[0] < 3
    assert len(slack.calls("chat.postMessage")) == 2


def test_slack_long_retry_after_is_raised_with_its_header() -> None:
    slack = FakeSlack()
    slept: list[float] = []
    with slack.serving():
        slack.fail_next["chat.postMessage"] = [limited(120)]
        client = make_web_client("xoxb-test", slack.url, sleep=slept.append)

        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="C1", text="hello")

    assert caught.value.response.status_code == 429
    assert slept == []
    assert len(slack.calls("chat.postMessage")) == 1


def test_slack_rate_limited_handoff_message_is_posted_once_after_retry_after(
    harness: Harness,
) -> None:
    handoff_id, _ = won_and_dm(harness)
    harness.services.handoffs.kick = lambda: None  # the outbox is drained by hand below
    view_id, view = open_form(harness, handoff_id)
    submit(harness, view_id, view, VALID)
    harness.slack.fail_next["chat.postMessage"] = [limited(120)]
    start = harness.clock.now

    harness.drain()

    with harness.services.uow() as uow:
        post = uow.session.scalars(
            select(OutboxJob).where(OutboxJob.action == actions.POST_HANDOFF_MESSAGE)
        ).one()
    assert post.status == "pending"
    assert post.next_attempt_at >= start + timedelta(seconds=120)
    assert harness.slack.in_channel(HANDOFF_CHANNEL) == []

    harness.clock.advance(seconds=121)
    harness.drain()

    assert len(harness.slack.in_channel(HANDOFF_CHANNEL)) == 1
