"""The App Home as Block Kit. Pure: the service gathers the items, this lays them out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import ActionsBlock, Block, DividerBlock
from slack_sdk.models.views import View

from bot.ids import Action
from bot.render.blocks import actions, button, context, header, section
from bot.render.mrkdwn import escape, slack_date
from bot.render.reminders import handoff_title, question_preview, what_is_owed
from bot.render.stats import stats_block_models
from storage.models import Handoff, Obligation

if TYPE_CHECKING:
    from bot.services.stats import TeamMonth

MAX_BLOCKS = 100  # Slack's limit for a Home tab view
EXPORT_STATS = Action.EXPORT_STATS
EXPORT_MONTHS = 6
HOME_PAGE_PREVIOUS = Action.HOME_PAGE_PREVIOUS
HOME_PAGE_NEXT = Action.HOME_PAGE_NEXT
_STATS_BLOCKS = 14  # header, a section per managed team, legend: enough for a manager's teams


@dataclass(frozen=True)
class HomeSection:
    """One titled list on the Home tab: the page of items shown and how many there are."""

    key: str  # names the list in its paging buttons
    title: str
    items: list[Block]
    total: int
    offset: int = 0  # position of the first item shown


def home_view(
    sections: Sequence[HomeSection], *, updated: str, figures: list[TeamMonth] | None = None
) -> dict[str, Any]:
    """The Home tab: non-empty sections in order, then health figures for managers."""
    blocks: list[Block] = [
        header("Your handoffs"),
        context(f"Updated {updated}. Opening this tab refreshes it."),
    ]
    shown = [s for s in sections if s.total]
    if not shown and figures is None:
        blocks.append(section("Nothing needs you right now. :sparkles:"))
    for sec in shown:
        blocks.append(header(f"{sec.title} ({sec.total})"))
        blocks.extend(sec.items)
        blocks.extend(_pager(sec))
        blocks.append(DividerBlock())
    if figures is not None:
        room = min(_STATS_BLOCKS, MAX_BLOCKS - len(blocks) - 1)  # keep one for the export button
        blocks.extend(stats_block_models(figures, max_blocks=room))
        export = button(f"Export CSV ({EXPORT_MONTHS} months)", EXPORT_STATS, str(EXPORT_MONTHS))
        blocks.append(actions([export]))
    return View(type="home", blocks=blocks).to_dict()


def _pager(sec: HomeSection) -> list[Block]:
    """'Showing 13-24 of 150' and Previous/Next buttons, when the list is longer than a page."""
    last = sec.offset + len(sec.items)
    if sec.offset == 0 and last >= sec.total:
        return []
    buttons = []
    if sec.offset > 0:
        # Any position on the previous page will do: the service rounds down to a page start.
        previous = f"{sec.key}:{sec.offset - 1}"
        buttons.append(button("Previous", HOME_PAGE_PREVIOUS, previous))
    if last < sec.total:
        buttons.append(button("Next", HOME_PAGE_NEXT, f"{sec.key}:{last}"))
    pager: ActionsBlock = actions(buttons)
    return [context(f"Showing {sec.offset + 1}-{last} of {sec.total}."), pager]


def _due(due: datetime | None, now: datetime, zone: ZoneInfo) -> str:
    if due is None:
        return ""
    if due <= now:
        return f":red_circle: overdue since {slack_date(due, zone)}"
    return f"due {slack_date(due, zone)}"


def form_item(handoff: Handoff, ob: Obligation | None, now: datetime, zone: ZoneInfo) -> Block:
    """A handoff form the user still has to submit, with a button to continue it."""
    state = "Draft saved" if handoff.draft_payload else "Not started"
    due = _due(ob.due_at if ob else None, now, zone)
    text = f"{handoff_title(handoff)}\n{state}" + (f" · {due}" if due else "")
    label = "Continue" if handoff.draft_payload else "Fill in the form"
    return section(text, button(label, Action.OPEN_FORM, str(handoff.id), primary=True))


def confirm_item(
    handoff: Handoff, teams: list[str], due: datetime | None, now: datetime, zone: ZoneInfo
) -> Block:
    """A handoff waiting for one of the user's teams (by name) to confirm it."""
    waiting = escape(", ".join(teams))
    text = f"{handoff_title(handoff)}\nWaiting for *{waiting}* to confirm"
    when = _due(due, now, zone)
    text += f" · {when}" if when else ""
    return section(text, button("Open handoff", Action.OPEN_HANDOFF, str(handoff.id)))


def question_item(handoff: Handoff, ob: Obligation, now: datetime, zone: ZoneInfo) -> Block:
    """An unanswered question in the thread of one of the user's handoffs."""
    asker = ob.detail.get("asked_by")
    preview = question_preview(ob, handoff)
    asked = f"<@{asker}> asked" if asker else "Question"
    quoted = f": _{preview}_" if preview else ""
    text = f"{handoff_title(handoff)}\n{asked}{quoted} · {_due(ob.due_at, now, zone)}"
    return section(text, button("Open handoff", Action.OPEN_HANDOFF, str(handoff.id)))


def completed_item(handoff: Handoff, zone: ZoneInfo) -> Block:
    """A handoff every receiving team has confirmed."""
    done = handoff.completed_at
    when = f"Completed {slack_date(done, zone)}" if done else "Completed"
    return section(f"{handoff_title(handoff)}\n{when}")


def overdue_item(
    handoff: Handoff, ob: Obligation, overdue: str, team_name: str | None = None
) -> Block:
    """For a manager: something their team owes that is past due, and by how long."""
    text = f"{handoff_title(handoff)}\n*{what_is_owed(ob, team_name)}* overdue by {overdue}"
    if ob.step >= 2:
        text += " · escalated"
    return section(text, button("Open handoff", Action.OPEN_HANDOFF, str(handoff.id)))
