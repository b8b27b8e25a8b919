"""Outbox handler for a submitted renewal: its deal in the CRM, with the brief as a note.

The deal's owner is the renewed deal's owner; once it exists they are told in Slack (in the
sales team's working hours) that the renewal is theirs to confirm.
"""

from __future__ import annotations

from typing import Any

from bot.render.renewal_request import renewal_deal_created
from bot.services import actions, renewal_deal
from bot.services.briefs import build_brief, form_model
from bot.services.effects_base import EffectsBase, log
from bot.services.outbox import JobContext
from forms.money import format_money
from forms.renewal_to_sales import RenewalToSalesForm
from integrations.ports import RenewalDeal, RenewalDealRequest, RenewalDeals, VendorRejected
from storage.models import Handoff


class RenewalDealEffects(EffectsBase):
    def create_renewal_deal(self, ctx: JobContext) -> dict[str, Any]:
        """Create the renewal deal once; looks for it first after an uncertain earlier try."""
        handoff = self._handoff(ctx.handoff_id)
        existing = handoff.record(renewal_deal.TARGET)
        if existing is not None and existing.status == "done":
            return {"external_id": existing.external_id, "reused": True}
        crm = self.tools.crm
        if not isinstance(crm, RenewalDeals):
            raise VendorRejected(self.org.crm, "no CRM is configured (set HUBSPOT_TOKEN)")
        model = form_model(handoff)
        assert isinstance(model, RenewalToSalesForm)
        renewals = self.org.renewals
        request = RenewalDealRequest(
            source_deal_id=handoff.deal_id or "",
            name=f"{model.account_name} — renewal {model.renewal_date.isoformat()}",
            amount=model.recommended_value,
            currency=model.currency,
            close_date=model.renewal_date,
            pipeline_id=renewals.pipeline_id or self.org.hubspot.pipeline_id,
            stage_id=renewals.deal_stage,
            brief=build_brief(
                handoff,
                slack_thread_url=self._thread_url(handoff),
                crm_deal_url=self._deal_url(handoff),
                names=self.slack.user_name,
            ),
        )
        look_first = ctx.uncertain or bool(ctx.payload.get("look_first")) or ctx.attempt > 1
        made = crm.create_renewal_deal(request, look_first=look_first)
        # Asked before the record is stored: a retry after this finds the record done and
        # returns above, so the owner must already be queued (its key keeps it to one).
        self._tell_owner(handoff, made, format_money(model.recommended_value, model.currency))
        self.handoffs.record_created(handoff.id, renewal_deal.TARGET, made.record)
        return {"external_id": made.record.external_id, "note": list(made.record.extra_ids)}

    def _tell_owner(self, handoff: Handoff, made: RenewalDeal, value: str) -> None:
        crm = self._crm()
        email = crm.owner_email(made.owner_id) if made.owner_id else None
        user_id = self.slack.user_id_by_email(email) if email else None
        if user_id is None:
            log.info("renewal_owner_unmatched handoff=%s", handoff.id)
            return
        text = renewal_deal_created(
            handoff.account_name, value, made.record.url, self._thread_url(handoff)
        )
        sales = self.org.routes[handoff.kind].receivers[0]
        with self.uow() as uow:
            stored = uow.repo.handoff(handoff.id)
            if stored is not None:
                uow.repo.enqueue(
                    stored,
                    actions.SLACK_POST,
                    f"renewal-owner:{handoff.id}",
                    {"channel": user_id, "text": text, actions.WORKING_HOURS: {"team": sales}},
                )
                uow.commit()
