"""CRM, vendor and people text never becomes a mention or a link in what the app posts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.config import parse_org_config
from bot.render.digest import digest_line, digest_message
from bot.render.mrkdwn import escape, quote
from bot.render.reminders import escalation, reminder
from storage.models import Handoff, Obligation
from tests.bot.conftest import HANDOFF_CHANNEL, OPS_MEMBER, SELLER, Harness, org_dict, won_event
from tests.bot.test_handoff_flow import VALID, open_form, submit

EVIL = "Acme <!channel> <https://evil.example/login|Reset your password>"
OPS_CHANNEL = "C0OPSTEAM"


def _no_markup_from(evil: str, text: str) -> None:
    assert "<!channel>" not in text
    assert "<https://evil.example" not in text
    assert escape(evil) in text


def _mrkdwn(node: Any) -> str:
    """Every mrkdwn text in the blocks (plain_text is shown as typed, so it may hold anything)."""
    if isinstance(node, list):
        return "\n".join(_mrkdwn(n) for n in node)
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            return str(node["text"])
        return "\n".join(_mrkdwn(v) for v in node.values())
    return ""


def _harness_with_team_channel(make_harness: Callable[..., Harness]) -> Harness:
    org = org_dict()
    org["teams"]["ops"]["channel"] = OPS_CHANNEL
    return make_harness(org=parse_org_config(org))


def test_escaping_deal_name_in_dm_handoff_message_and_team_pointer(
    make_harness: Callable[..., Harness],
) -> None:
    h = _harness_with_team_channel(make_harness)
    h.hubspot.add_deal("900", name=EVIL, company=EVIL)

    h.hubspot_webhook([won_event("900", 1)])

    [dm] = h.slack.dms_to(SELLER)
    _no_markup_from(EVIL, dm.text)
    _no_markup_from(EVIL, _mrkdwn(dm.blocks))
    handoff_id = int(dm.blocks[1]["elements"][0]["value"])
    view_id, view = open_form(h, handoff_id)
    assert submit(h, view_id, view, {**VALID, "account_name": EVIL}).status == 200

    [root] = h.slack.in_channel(HANDOFF_CHANNEL)
    _no_markup_from(EVIL, root.text)
    _no_markup_from(EVIL, _mrkdwn(root.blocks))
    [pointer] = h.slack.in_channel(OPS_CHANNEL)
    _no_markup_from(EVIL, pointer.text)
    assert h.slack.problems == []


def test_escaping_unmatched_owner_admin_dm(harness: Harness) -> None:
    harness.hubspot.add_deal("901", name=EVIL, owner_email="nobody@else.example")

    harness.hubspot_webhook([won_event("901", 1)])

    [told] = [
        m for m in harness.slack.messages if m.channel.endswith(harness.services.org.admin_user)
    ]
    _no_markup_from(EVIL, told.text)


def test_escaping_thread_question_is_quoted_once_without_pings(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.hubspot.add_deal("902")
    h.hubspot_webhook([won_event("902", 1)])
    [dm] = h.slack.dms_to(SELLER)
    view_id, view = open_form(h, int(dm.blocks[1]["elements"][0]["value"]))
    submit(h, view_id, view, {**VALID, "account_name": EVIL})
    [root] = h.slack.in_channel(HANDOFF_CHANNEL)
    # As Slack delivers it: literal characters escaped, markup as <…> tokens, nested on purpose.
    text = "R&amp;D &lt;3 <!x|<!channel>> <!here> and <https://evil.example|Reset>?"
    h.event(
        {
            "type": "message",
            "channel": HANDOFF_CHANNEL,
            "user": OPS_MEMBER,
            "text": text,
            "ts": "1700000100.000100",
            "thread_ts": root.ts,
            "parent_user_id": "UBOT",
            "event_ts": "1700000100.000100",
            "channel_type": "channel",
        }
    )

    shown = _mrkdwn(h.slack.latest(HANDOFF_CHANNEL, root.ts).blocks)
    assert "R&amp;D &lt;3" in shown  # escaped once, not &amp;amp;
    assert "<!channel>" not in shown and "<!here>" not in shown
    assert "<https://evil.example" not in shown
    # The seller's App Home lists the question: the same preview, the account escaped.
    h.event({"type": "app_home_opened", "user": SELLER, "tab": "home", "ts": "1700000200.0001"})
    home = _mrkdwn(h.slack.homes[SELLER]["blocks"])
    assert "R&amp;D &lt;3" in home and "&amp;amp;" not in home
    _no_markup_from(EVIL, home)
    assert "<!here>" not in home
    assert h.slack.problems == []


def test_quote_neutralises_nested_and_broken_markup() -> None:
    assert quote("<!x|<!channel>>") == "&lt;!x|@channel&gt;"
    assert quote("<!subteam^S1|@ops> hi <@U123>") == "@ops hi <@U123>"
    assert quote("<https://a.example|Reset>") == "Reset (https://a.example)"
    assert quote("a &amp;amp; b <oops") == "a &amp;amp; b &lt;oops"
    assert quote("<!date^1^{date}|<!channel>>") == "&lt;!date^1^{date}|@channel&gt;"


def test_escaping_reminders_escalations_and_digest_lines() -> None:
    handoff = Handoff(id=7, account_name=EVIL, deal_name=EVIL)
    form = Obligation(id=1, sla="form", subject="form", owner_user_id=SELLER, step=0, detail={})
    question = Obligation(
        id=2, sla="answer", subject="msg:1.2", step=1, detail={"text_preview": "<!channel> hi"}
    )

    for message in (
        reminder(form, handoff, channel=SELLER, due="today"),
        reminder(question, handoff, channel=SELLER, due="today"),
        escalation(form, handoff, channel="U0MGR", overdue="2 hours", due="today"),
        digest_message(
            "U0MGR", ["Ops <!here>"], [digest_line(form, handoff, "late")], [], at_risk_hours=4
        ),
    ):
        # Digest lines shorten the title, so look for the escaped start of the name.
        _no_markup_from(EVIL[:20], message.text + "\n" + _mrkdwn(message.blocks))
        assert "<https://evil.example" not in message.text + _mrkdwn(message.blocks)
        assert "<!here>" not in message.text and "<!channel>" not in _mrkdwn(message.blocks)
