"""Handoff health figures as Block Kit: a header, a section per team, a legend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import Block

from bot.render.blocks import context, header, section, to_dicts
from bot.render.mrkdwn import escape

if TYPE_CHECKING:
    from bot.services.stats import TeamMonth


def stats_blocks(figures: Sequence[TeamMonth], max_blocks: int = 50) -> list[dict[str, Any]]:
    """Block Kit: a header, one section per team (a line per month), a legend; ≤ max_blocks."""
    return to_dicts(stats_block_models(figures, max_blocks))


def stats_block_models(figures: Sequence[TeamMonth], max_blocks: int = 50) -> list[Block]:
    """`stats_blocks` as slack_sdk models, for views that add blocks of their own."""
    blocks: list[Block] = [header("Handoff health")]
    teams = list(dict.fromkeys(f.team for f in figures))
    if not teams:
        blocks.append(section("No handoffs in this period."))
        return blocks
    names = {f.team: f.team_name or f.team for f in figures}
    room = max(1, max_blocks - 2)  # the header and the legend
    for team in teams[:room]:
        lines = [
            _line(f) for f in sorted(figures, key=lambda f: f.month, reverse=True) if f.team == team
        ]
        blocks.append(section(f"*{escape(names[team])}*\n" + "\n".join(lines)))
    legend = (
        "Medians in business hours. Within SLA: confirmed by the confirm deadline. "
        "Many questions per handoff point at what the form still misses."
    )
    if len(teams) > room:
        legend = f"{len(teams) - room} more team(s) in `/handoff stats csv`. {legend}"
    blocks.append(context(legend))
    return blocks


def _line(f: TeamMonth) -> str:
    parts = [f"`{f.month}` {f.opened} opened"]
    if f.median_hours_to_submit is not None:
        parts.append(f"form {f.median_hours_to_submit:.1f} h")
    if f.median_hours_to_confirm is not None:
        parts.append(f"confirm {f.median_hours_to_confirm:.1f} h")
    if f.confirmed_within_sla is not None:
        parts.append(f"{f.confirmed_within_sla:.0%} within SLA")
    parts.append(f"{f.questions_per_handoff:.1f} questions/handoff")
    parts.append(f"{f.failed_effects} failed effects")
    return " · ".join(parts)
