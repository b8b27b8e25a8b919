"""The daily digest message: what a manager's teams have overdue or at risk today."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.render.blocks import context, header, section, to_dicts
from bot.render.mrkdwn import escape
from bot.render.reminders import Outgoing, handoff_title, what_is_owed
from storage.models import Handoff, Obligation

MAX_LINES = 40  # beyond this the digest points at the App Home
_LINES_PER_SECTION = 10  # keeps each section well under Slack's 3000 characters


def digest_line(ob: Obligation, handoff: Handoff, when: str, team_name: str | None = None) -> str:
    """'• *Account* — Deal: what is owed — when' (`when` is the app's own words)."""
    return f"• {handoff_title(handoff, limit=60)}: {what_is_owed(ob, team_name)} — {when}"


def digest_message(
    user_id: str,
    team_names: Sequence[str],
    overdue: Sequence[str],
    at_risk: Sequence[str],
    *,
    at_risk_hours: int,
    note: str | None = None,
) -> Outgoing:
    """The digest DM: overdue then at-risk lines (from `digest_line`), at most MAX_LINES."""
    teams = escape(", ".join(team_names))
    blocks: list[Block] = [
        header("Handoffs needing attention"),
        context(f"Teams: {teams}. Overdue, and due in the next {at_risk_hours} business hours."),
    ]
    budget = MAX_LINES
    for title, lines in (
        (":red_circle: Overdue", overdue),
        (":large_yellow_circle: At risk", at_risk),
    ):
        if not lines:
            continue
        shown, budget = lines[:budget], max(0, budget - len(lines))
        for start in range(0, len(shown), _LINES_PER_SECTION):
            chunk = "\n".join(shown[start : start + _LINES_PER_SECTION])
            heading = f"*{title} ({len(lines)})*\n" if start == 0 else ""
            blocks.append(section(heading + chunk))
    total = len(overdue) + len(at_risk)
    hidden = total - min(total, MAX_LINES)
    if hidden:
        blocks.append(context(f"and {hidden} more — see the Handoff app's Home tab."))
    if note:
        blocks.append(context(escape(note)))
    text = f"Handoff digest for {teams}: {len(overdue)} overdue, {len(at_risk)} at risk."
    return Outgoing(channel=user_id, text=text, blocks=to_dicts(blocks))
