"""`/handoff` and the global shortcut: start a handoff by hand, or ask for the figures."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.ids import DEAL_ACTION, DEAL_BLOCK, Callback, Command
from bot.listeners.form import fill_form, stored_view
from bot.listeners.offload import offload
from bot.render.deal_prompt import deal_prompt_view
from bot.services.handoffs import HandoffError
from bot.wiring import Services
from forms.base import error_view, loading_view
from integrations.hubspot import parse_deal_reference
from integrations.ports import DealSnapshot, NotFound, VendorError
from storage.models import HandoffKind

log = logging.getLogger(__name__)

STATS_MONTHS = 6
# `/handoff <word> <deal>` starts that kind; a bare deal starts the sales -> delivery handoff.
KIND_WORDS = {
    "delivery": HandoffKind.DELIVERY_TO_FINANCE,
    "renewal": HandoffKind.RENEWAL_TO_SALES,
}
HELP = (
    "*/handoff* — handoffs between sales, ops and finance\n"
    "• `/handoff <HubSpot deal id or URL>` — start (or reopen) the handoff of a deal\n"
    "• `/handoff delivery <deal>` — delivery complete: hand the account to finance\n"
    "• `/handoff renewal <deal>` — renewal coming: hand the account back to sales\n"
    "• `/handoff reassign <handoff id> @person` — give a pending handoff to someone else "
    "(admin and managers)\n"
    "• `/handoff stats` — handoff health figures per team and month\n"
    "• `/handoff stats csv` — the same figures as a CSV file\n"
    "• `/handoff help` — this message"
)


def open_for_deal(
    services: Services, client: WebClient, trigger_id: str, reference: str, user_id: str, kind: str
) -> None:
    """Answer `/handoff <deal>` with one `views.open`: the form straight from the database when
    the deal's handoff is known, else a loading view that the CRM look-up then fills."""
    deal_id = parse_deal_reference(reference)
    if deal_id is not None:
        with services.uow() as uow:
            existing = uow.repo.handoff_for_deal(kind, deal_id)
        # Fast path, database only: a handoff this person may already open. Anything else
        # (a new handoff, an unassigned one to claim) is checked against the CRM below.
        if existing is not None and existing.sender_user_id is not None:
            view = stored_view(services, existing.id, user_id)
            if view is not None:
                client.views_open(trigger_id=trigger_id, view=view)
                return
    opened = client.views_open(trigger_id=trigger_id, view=loading_view("Handoff").to_dict())
    args = (services, client, str(opened["view"]["id"]), reference, user_id, kind)
    offload(services.background, "manual_start", start_for_deal, *args)


def _owner_user(services: Services, deal: DealSnapshot) -> str | None:
    """The deal owner's Slack user (CRM owner -> email -> Slack), None when unmatched."""
    if services.crm is None or not deal.owner_id:
        return None
    try:
        email = services.crm.owner_email(deal.owner_id)
        return services.messenger.user_id_by_email(email) if email else None
    except Exception as exc:  # unmatched: the owner rule cannot pass, the others still can
        log.warning("manual_start_owner_unmatched deal=%s error=%s", deal.deal_id, exc)
        return None


def start_for_deal(
    services: Services,
    client: WebClient,
    view_id: str,
    reference: str,
    user_id: str,
    kind: str = HandoffKind.SALES_TO_DELIVERY,
) -> None:
    """Create or find the deal's handoff and turn the open (loading) view into its form.

    Runs off Slack's clock: it asks the CRM for the deal's stage and owner, which decide
    whether this person may start it (`Permissions.may_start`, applied by the service)."""
    deal_id = parse_deal_reference(reference)
    if deal_id is None:
        message = f"“{reference}” is not a HubSpot deal id or deal URL."
        client.views_update(view_id=view_id, view=error_view("Handoff", message).to_dict())
        return
    deal = None
    if services.crm is not None:
        try:
            deal = services.crm.get_deal(deal_id)
        except NotFound:
            message = f"HubSpot has no deal {deal_id}. Check the id or the URL."
            client.views_update(view_id=view_id, view=error_view("Handoff", message).to_dict())
            return
        except VendorError as exc:
            # Not fatal: the form opens without prefill and the salesperson types it in.
            log.warning("manual_start_crm_unreachable deal=%s error=%s", deal_id, exc)
    owner = _owner_user(services, deal) if deal is not None else None
    # A renewal continues the deal's record: its term and prefill (database, Slack names).
    renewal = kind == HandoffKind.RENEWAL_TO_SALES
    term = services.renewals.term_for_deal(deal_id) if renewal else None
    try:
        handoff_id, created = services.handoffs.start_manual(
            deal_id, user_id, kind=kind, deal=deal, owner_user_id=owner, term=term
        )
    except HandoffError as exc:
        client.views_update(view_id=view_id, view=error_view("Handoff", str(exc)).to_dict())
        return
    log.info(
        "manual_start kind=%s deal=%s handoff=%s created=%s", kind, deal_id, handoff_id, created
    )
    if deal is not None:  # what the form opens with, now and next time
        services.handoffs.set_deal_facts(
            handoff_id,
            account_name=deal.company_name or deal.name,
            deal_name=deal.name,
            snapshot=deal.model_dump(mode="json"),
        )
    fill_form(services, client, view_id, handoff_id, user_id)


def register(app: App, services: Services) -> None:
    @app.command(Command.HANDOFF)
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        text = (body.get("text") or "").strip()
        user = str(body["user_id"])
        words = text.lower().split()
        if not words or words[0] == "help":
            ack(text=HELP)
            return
        if words[0] == "stats":
            ack()
            csv = "csv" in words[1:]
            offload(services.background, "stats", stats_reply, services, client, respond, user, csv)
            return
        if words[0] == "reassign":
            ack(text=reassign_reply(services, user, text))  # database only
            return
        kind = KIND_WORDS.get(words[0], HandoffKind.SALES_TO_DELIVERY)
        reference = text.split(maxsplit=1)[1] if words[0] in KIND_WORDS and len(words) > 1 else text
        ack()
        args = (services, client, body["trigger_id"], reference, body["user_id"], kind)
        offload(services.interactions, "command_open", open_for_deal, *args)

    @app.shortcut(Callback.START_SHORTCUT)
    def on_shortcut(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        offload(
            services.interactions,
            "shortcut_open",
            lambda: client.views_open(
                trigger_id=body["trigger_id"], view=deal_prompt_view().to_dict()
            ),
        )

    @app.view_submission(Callback.START_MODAL)
    def on_deal_given(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        reference = view["state"]["values"][DEAL_BLOCK][DEAL_ACTION].get("value") or ""
        if parse_deal_reference(reference) is None:
            ack(
                response_action="errors",
                errors={DEAL_BLOCK: "Paste a HubSpot deal id (digits) or the deal's URL."},
            )
            return
        ack(response_action="update", view=loading_view("Handoff").to_dict())
        args = (services, client, view["id"], reference, body["user"]["id"])
        offload(services.background, "manual_start", start_for_deal, *args)


REASSIGN_USAGE = "Usage: `/handoff reassign <handoff id> @person`"
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]+)$")


def reassign_reply(services: Services, user_id: str, text: str) -> str:
    """`/handoff reassign <handoff id> @person`: the answer, shown only to the person asking."""
    parts = text.split()
    if len(parts) != 3:
        return REASSIGN_USAGE
    raw_id, who = parts[1].lstrip("#"), MENTION.match(parts[2])
    if not raw_id.isdigit() or who is None:
        return REASSIGN_USAGE
    to_user = who.group(1) or who.group(2)
    try:
        services.handoffs.reassign(int(raw_id), user_id, to_user)
    except HandoffError as exc:
        return str(exc)
    return f"Handoff #{raw_id} is now <@{to_user}>'s to complete; they have the form in their DMs."


def stats_reply(
    services: Services, client: WebClient, respond: Respond, user_id: str, csv: bool
) -> None:
    from bot.render.stats import stats_blocks
    from bot.services import stats

    figures = services.home.figures(user_id, STATS_MONTHS)
    if figures is None:
        respond(
            text="Handoff health figures are for team managers and the admin. Ask yours, or "
            "see what is yours to do on my App Home.",
            response_type="ephemeral",
        )
        return
    if csv:
        services.messenger.upload_file(
            user_id, "handoff-health.csv", stats.stats_csv(figures), "Handoff health figures"
        )
        respond(text="The CSV is in your DMs with me.", response_type="ephemeral")
        return
    respond(blocks=stats_blocks(figures), text="Handoff health figures", response_type="ephemeral")
