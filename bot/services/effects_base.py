"""What every effects handler shares: the team tools, the dependencies and small lookups."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import OrgConfig
from bot.services.handoffs import HandoffService
from bot.services.leases import Leases
from bot.services.ports import Clock, Messenger
from bot.services.teams import TeamDirectory
from integrations.ports import Crm, FinanceTool, OpsTool
from storage.models import Handoff
from storage.uow import UnitOfWorkFactory

# The one logger name of every effects module, kept from before the split (logs show it).
log = logging.getLogger("bot.services.effects")


@dataclass
class Tools:
    """The adapters each receiving team uses, by team key."""

    crm: Crm | None
    ops: Mapping[str, OpsTool]
    finance: Mapping[str, FinanceTool]


class EffectsBase:
    """The dependencies and lookups of the handlers in `effects_slack` and `effects_vendors`."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        org: OrgConfig,
        clock: Clock,
        messenger: Messenger,
        tools: Tools,
        handoffs: HandoffService,
        teams: TeamDirectory,
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.slack = messenger
        self.tools = tools
        self.handoffs = handoffs
        self.teams = teams
        self.leases = Leases(uow)

    # --- reading ----------------------------------------------------------------------------------

    def _handoff(self, handoff_id: int | None) -> Handoff:
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id or 0)
            if handoff is None:
                raise LookupError(f"handoff {handoff_id} is gone")
            return handoff

    def _deal_url(self, handoff: Handoff) -> str | None:
        if self.tools.crm is None or not handoff.deal_id:
            return None
        return self.tools.crm.deal_url(handoff.deal_id)

    def _thread_url(self, handoff: Handoff) -> str | None:
        if handoff.channel_id and handoff.thread_ts:
            return self.slack.permalink(handoff.channel_id, handoff.thread_ts)
        return None

    # --- helpers --------------------------------------------------------------------------------

    def _crm(self) -> Crm:
        if self.tools.crm is None:
            raise LookupError("no CRM configured (set HUBSPOT_TOKEN)")
        return self.tools.crm

    def _audit(self, handoff_id: int, event: str, **detail: Any) -> None:
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id)
            if handoff is not None:
                uow.repo.audit(handoff, "system", event, **detail)
                uow.commit()

    def _tell_admin(self, text: str, handoff_id: int | None) -> None:
        self.slack.post(self.org.admin_user, text)
        log.info("admin_told handoff=%s", handoff_id)
