"""The App Home list of open money-check mismatches, for the finance team (issue 9)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from bot.render.home import HomeSection
from bot.render.money_check import mismatch_item
from bot.services.home_sections import page_offset
from storage import money_repo
from storage.models import Handoff

CAP_MISMATCHES = 8


def money_section(session: Session, teams: list[str], pages: Mapping[str, int]) -> HomeSection:
    """Open mismatches of the finance teams the user belongs to or manages, oldest first."""
    rows = list(money_repo.open_for_teams(session, teams)) if teams else []
    offset = page_offset(pages, "money", len(rows), CAP_MISMATCHES)
    items = []
    for row in rows[offset : offset + CAP_MISMATCHES]:
        handoff = session.get(Handoff, row.handoff_id)
        if handoff is not None:
            items.append(mismatch_item(row.id, handoff, row.differences, row.links))
    return HomeSection("money", "Money check: billing to fix", items, len(rows), offset)
