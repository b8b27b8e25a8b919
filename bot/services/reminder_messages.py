"""Block Kit for reminders and escalations. Pure: data in, message out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.ids import Action
from bot.services.obligations import what_is_owed
from storage.models import Handoff, Obligation

OPEN_HANDOFF = Action.OPEN_HANDOFF
OPEN_FORM = Action.OPEN_FORM
SNOOZE = Action.SNOOZE

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def is_user_id(value: str | None) -> bool:
    """True when `value` looks like a Slack user id (U... or W...)."""
    return bool(value and _USER_ID.fullmatch(value))


@dataclass(frozen=True)
class Outgoing:
    """A Slack message to post through the outbox ("slack.post")."""

    channel: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None

    def payload(self, handoff_id: int | None) -> dict[str, Any]:
        """The outbox payload the "slack.post" handler expects."""
        payload: dict[str, Any] = {
            "channel": self.channel,
            "text": self.text,
            "blocks": self.blocks,
            "fallback_to_admin": True,
            "handoff_id": handoff_id,
        }
        if self.thread_ts:
            payload["thread_ts"] = self.thread_ts
        return payload


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def handoff_title(handoff: Handoff, limit: int = 120) -> str:
    """'*Account* — Deal' in mrkdwn, shortened so list lines stay readable."""
    account = escape(handoff.account_name[:limit] or f"Handoff #{handoff.id}")
    deal = escape(handoff.deal_name[:limit])
    return f"*{account}* — {deal}" if deal else f"*{account}*"


def question_preview(ob: Obligation, handoff: Handoff, limit: int = 80) -> str:
    """The question's opening words, escaped: from the obligation, else from the thread copy."""
    text = str(ob.detail.get("text_preview") or "")
    if not text:
        ts = ob.subject.removeprefix("msg:")
        text = next((m.text for m in handoff.messages if m.slack_ts == ts), "")
    text = " ".join(text.split())  # one line: a newline would end the italics
    return escape(text[:limit] + ("…" if len(text) > limit else ""))


def slack_date(instant: datetime, zone: ZoneInfo) -> str:
    """A date Slack renders in the reader's own time zone, with a fallback in the team's."""
    fallback = instant.astimezone(zone).strftime("%a %d %b %H:%M %Z")
    return f"<!date^{int(instant.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def button(text: str, action_id: str, value: str, *, primary: bool = False) -> dict[str, Any]:
    """A Block Kit button element."""
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text[:75]},
        "action_id": action_id,
        "value": value,
    }
    if primary:
        element["style"] = "primary"
    return element


def section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    """A mrkdwn section block, cut to Slack's 3000-character limit."""
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(text: str) -> dict[str, Any]:
    """A one-line mrkdwn context block."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _snooze(ob: Obligation) -> dict[str, Any]:
    return button("Snooze 1 business day", SNOOZE, str(ob.id))


def reminder(
    ob: Obligation, handoff: Handoff, *, channel: str, due: str, note: str | None = None
) -> Outgoing:
    """Step 1 for a person (form or answer): a DM with the next action and a snooze button."""
    title = handoff_title(handoff)
    if ob.sla == "form":
        body = (
            f":alarm_clock: *Your handoff form is due* — {title}\n"
            f"Ops and finance start from it; it was due {due}."
        )
        main = button("Complete the form", OPEN_FORM, str(handoff.id), primary=True)
        text = f"Reminder: the handoff form for {escape(handoff.account_name)} is due."
    else:
        preview = question_preview(ob, handoff)
        owed = what_is_owed(ob)
        quoted = f": _{preview}_" if preview else ""
        body = (
            f":speech_balloon: *A question is waiting for your answer* — {title}\n"
            f"{owed[:1].upper()}{owed[1:]}{quoted}\nIt was due {due}."
        )
        main = button("Open handoff", OPEN_HANDOFF, str(handoff.id), primary=True)
        text = f"Reminder: a question on the {escape(handoff.account_name)} handoff is unanswered."
    blocks = [section(body)]
    if note:
        blocks.append(context(note))
    blocks.append({"type": "actions", "elements": [main, _snooze(ob)]})
    return Outgoing(channel=channel, text=text, blocks=blocks)


def confirm_reminder(
    ob: Obligation,
    handoff: Handoff,
    *,
    channel: str,
    thread_ts: str | None,
    mention: str,
    due: str,
) -> Outgoing:
    """Step 1 for a team: a reply in the handoff thread mentioning the team's members."""
    team = escape(ob.team or ob.subject)
    body = (
        f"{mention} :wave: this handoff is waiting for *{team}* to confirm it "
        f"(due {due}). Ask here if anything is unclear."
    )
    if thread_ts is None:  # no thread yet: say which handoff this is
        body = f"{body}\n{handoff_title(handoff)}"
    blocks = [section(body), {"type": "actions", "elements": [_snooze(ob)]}]
    text = f"{mention} please confirm this handoff for {ob.team or ob.subject}."
    return Outgoing(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts)


def escalation(
    ob: Obligation,
    handoff: Handoff,
    *,
    channel: str,
    overdue: str,
    due: str,
    note: str | None = None,
) -> Outgoing:
    """Step 2: a DM to the manager saying what is overdue, by how long, with a way in."""
    owed = what_is_owed(ob)
    body = (
        f":rotating_light: *Overdue: {owed}* — {handoff_title(handoff)}\n"
        f"Overdue by *{overdue}* (it was due {due})."
    )
    if ob.step >= 1:
        body += "\nA reminder was sent when it fell due."
    blocks = [section(body, button("Open handoff", OPEN_HANDOFF, str(handoff.id)))]
    if note:
        blocks.append(context(note))
    text = f"Overdue by {overdue}: {_plain(owed)} on the {escape(handoff.account_name)} handoff."
    return Outgoing(channel=channel, text=text, blocks=blocks)


def _plain(mrkdwn: str) -> str:
    return mrkdwn.replace("*", "")
