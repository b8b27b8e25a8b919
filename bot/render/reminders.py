"""Reminders and escalations, and the lines that name a handoff and what is owed on it.

Pure: data in, message out. Account and deal names come from the CRM, question previews from
people: every one is escaped (previews are quoted from Slack's own text, so escaped once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block, ButtonElement

from bot.ids import Action
from bot.render.blocks import actions, button, context, section, to_dicts
from bot.render.mrkdwn import escape, quote
from storage.models import Handoff, Obligation


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


def what_is_owed(ob: Obligation, team_name: str | None = None) -> str:
    """Short mrkdwn description of the obligation, for reminders, digests and the App Home."""
    if ob.sla == "form":
        who = f" from <@{ob.owner_user_id}>" if ob.owner_user_id else ""
        return f"handoff form{who}"
    if ob.sla == "confirm":
        return f"confirmation by {escape(team_name or ob.team or ob.subject)}"
    asker = ob.detail.get("asked_by")
    return f"answer to <@{asker}>'s question" if asker else "answer to a question"


def handoff_title(handoff: Handoff, limit: int = 120) -> str:
    """'*Account* — Deal' in mrkdwn, shortened so list lines stay readable."""
    account = escape(handoff.account_name[:limit] or f"Handoff #{handoff.id}")
    deal = escape(handoff.deal_name[:limit])
    return f"*{account}* — {deal}" if deal else f"*{account}*"


def question_preview(ob: Obligation, handoff: Handoff, limit: int = 80) -> str:
    """The question's opening words, quoted: from the obligation, else from the thread copy."""
    text = str(ob.detail.get("text_preview") or "")
    if not text:
        ts = ob.subject.removeprefix("msg:")
        text = next((m.text for m in handoff.messages if m.slack_ts == ts), "")
    text = " ".join(text.split())  # one line: a newline would end the italics
    return quote(text[:limit]) + ("…" if len(text) > limit else "")


def _snooze(ob: Obligation) -> ButtonElement:
    return button("Snooze 1 business day", Action.SNOOZE, str(ob.id))


def reminder(
    ob: Obligation, handoff: Handoff, *, channel: str, due: str, note: str | None = None
) -> Outgoing:
    """Step 1 for a person (form or answer): a DM with the next action and a snooze button."""
    title = handoff_title(handoff)
    account = escape(handoff.account_name)
    if ob.sla == "form":
        body = (
            f":alarm_clock: *Your handoff form is due* — {title}\n"
            f"Ops and finance start from it; it was due {due}."
        )
        main = button("Complete the form", Action.OPEN_FORM, str(handoff.id), primary=True)
        text = f"Reminder: the handoff form for {account} is due."
    else:
        preview = question_preview(ob, handoff)
        owed = what_is_owed(ob)
        quoted = f": _{preview}_" if preview else ""
        body = (
            f":speech_balloon: *A question is waiting for your answer* — {title}\n"
            f"{owed[:1].upper()}{owed[1:]}{quoted}\nIt was due {due}."
        )
        main = button("Open handoff", Action.OPEN_HANDOFF, str(handoff.id), primary=True)
        text = f"Reminder: a question on the {account} handoff is unanswered."
    blocks: list[Block] = [section(body)]
    if note:
        blocks.append(context(note))
    blocks.append(actions([main, _snooze(ob)]))
    return Outgoing(channel=channel, text=text, blocks=to_dicts(blocks))


def confirm_reminder(
    ob: Obligation,
    handoff: Handoff,
    *,
    channel: str,
    thread_ts: str | None,
    mention: str,
    due: str,
    team_name: str | None = None,
) -> Outgoing:
    """Step 1 for a team: a reply in the handoff thread mentioning the team's members."""
    team = escape(team_name or ob.team or ob.subject)
    body = (
        f"{mention} :wave: this handoff is waiting for *{team}* to confirm it "
        f"(due {due}). Ask here if anything is unclear."
    )
    if thread_ts is None:  # no thread yet: say which handoff this is
        body = f"{body}\n{handoff_title(handoff)}"
    blocks = to_dicts([section(body), actions([_snooze(ob)])])
    text = f"{mention} please confirm this handoff for {team}."
    return Outgoing(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts)


def escalation(
    ob: Obligation,
    handoff: Handoff,
    *,
    channel: str,
    overdue: str,
    due: str,
    note: str | None = None,
    team_name: str | None = None,
) -> Outgoing:
    """Step 2: a DM to the manager saying what is overdue, by how long, with a way in."""
    owed = what_is_owed(ob, team_name)
    body = (
        f":rotating_light: *Overdue: {owed}* — {handoff_title(handoff)}\n"
        f"Overdue by *{overdue}* (it was due {due})."
    )
    if ob.step >= 1:
        body += "\nA reminder was sent when it fell due."
    blocks: list[Block] = [
        section(body, button("Open handoff", Action.OPEN_HANDOFF, str(handoff.id)))
    ]
    if note:
        blocks.append(context(note))
    account = escape(handoff.account_name)
    text = f"Overdue by {overdue}: {owed.replace('*', '')} on the {account} handoff."
    return Outgoing(channel=channel, text=text, blocks=to_dicts(blocks))
