"""The App Home list of accounts the user's team is delivering, each with its *Delivery
complete* button (issue 9)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.render.delivery import in_delivery_item
from bot.render.home import HomeSection
from bot.services.delivery_complete import in_delivery
from bot.services.home_sections import page_offset
from bot.services.obligations import ObligationBook
from storage.models import Handoff, HandoffKind, Receipt

CAP_IN_DELIVERY = 8


def in_delivery_section(
    session: Session, book: ObligationBook, teams: list[str], pages: Mapping[str, int]
) -> HomeSection:
    """For members of the team that sends delivery -> finance handoffs: the sales it confirmed
    and has not yet marked delivered, oldest handover first."""
    sender = book.org.routes[HandoffKind.DELIVERY_TO_FINANCE].sender
    if sender not in teams:
        return HomeSection("delivery", "In delivery", [], 0)
    # Once the team has confirmed the sale (before that it is in "To confirm").
    stmt = (
        select(Handoff)
        .join(Receipt, Receipt.handoff_id == Handoff.id)
        .where(in_delivery(), Receipt.team == sender, Receipt.confirmed_at.is_not(None))
        .order_by(Handoff.submitted_at, Handoff.id)
    )
    rows = list(session.scalars(stmt))
    offset = page_offset(pages, "delivery", len(rows), CAP_IN_DELIVERY)
    zone = book.calendar(sender).zone
    items = [in_delivery_item(h, zone) for h in rows[offset : offset + CAP_IN_DELIVERY]]
    return HomeSection("delivery", "In delivery", items, len(rows), offset)
