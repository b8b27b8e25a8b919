"""Who may do what to a handoff: the one place the rules live.

Every method answers None (allowed) or a refusal written for the person who asked. The services
call these before changing anything, so a listener, a command, an App Home button or a future API
all get the same answer; listeners only relay the message.

Membership comes from the `TeamDirectory` (listed users plus cached Slack user groups), so these
checks are safe on Slack's acknowledging thread. Facts that need the CRM (a deal's stage and its
owner's Slack user) are looked up by the caller off that thread and passed in.
"""

from __future__ import annotations

from typing import Protocol

from bot.config import OrgConfig
from bot.services import renewal_deal
from integrations.ports import DealSnapshot
from storage.models import Handoff, HandoffKind, HandoffStatus, Obligation

AMENDABLE = (HandoffStatus.SUBMITTED, HandoffStatus.DELIVERED, HandoffStatus.CONFIRMED)


class Membership(Protocol):
    def is_member(self, team_key: str, user_id: str) -> bool: ...

    def team_name(self, team_key: str) -> str: ...


class ListedMembers:
    """Membership from the organisation file's listed users only (no Slack user groups)."""

    def __init__(self, org: OrgConfig) -> None:
        self.org = org

    def is_member(self, team_key: str, user_id: str) -> bool:
        team = self.org.teams.get(team_key)
        return team is not None and user_id in team.members.users

    def team_name(self, team_key: str) -> str:
        team = self.org.teams.get(team_key)
        return team.name if team else team_key


class Permissions:
    def __init__(self, org: OrgConfig, teams: Membership) -> None:
        self.org = org
        self.teams = teams

    # --- who is who -----------------------------------------------------------------------------

    def is_admin(self, user_id: str) -> bool:
        return user_id == self.org.admin_user

    def is_manager(self, user_id: str, team_key: str | None) -> bool:
        team = self.org.teams.get(team_key or "")
        return team is not None and team.manager is not None and team.manager == user_id

    def oversees(self, user_id: str, team_key: str | None) -> bool:
        """The admin, or the team's manager."""
        return self.is_admin(user_id) or self.is_manager(user_id, team_key)

    def sender_team(self, kind: str) -> str:
        return self.org.routes[kind].sender

    # --- starting a handoff ---------------------------------------------------------------------

    def may_start(
        self, user_id: str, kind: str, deal: DealSnapshot | None, owner_user_id: str | None
    ) -> str | None:
        """Start (or claim an unassigned) handoff of a deal by hand.

        `deal` is what the CRM says now (None when no CRM is configured or it cannot be reached);
        `owner_user_id` is the deal owner's Slack user, when the CRM owner was matched to one.
        A deal must be in the won or the pending stage. Sales -> delivery: its owner, the sending
        team's manager or the admin. Other kinds: the sending team's members, manager or admin.
        """
        team = self.sender_team(kind)
        name = self.teams.team_name(team)
        if deal is not None and deal.stage not in self._started_stages():
            return (
                f"Deal {deal.deal_id} is not won yet, so it has no handoff to start. Move it to "
                "won in HubSpot first; the handoff starts by itself."
            )
        if self.oversees(user_id, team):
            return None
        if kind == HandoffKind.SALES_TO_DELIVERY:
            if deal is None:
                # Without the CRM the owner is unknown: the sending team, as before.
                if self.teams.is_member(team, user_id):
                    return None
                return f"Only members of {name} start this kind of handoff."
            if owner_user_id is not None and owner_user_id == user_id:
                return None
            return (
                "Only the deal's owner, the manager of "
                f"{name} or the admin can start this deal's handoff."
            )
        if self.teams.is_member(team, user_id):
            return None
        return f"Only members of {name} start this kind of handoff."

    def _started_stages(self) -> set[str]:
        hubspot = self.org.hubspot
        return {hubspot.won_stage, hubspot.pending_stage}

    # --- the form -------------------------------------------------------------------------------

    def may_edit(self, user_id: str, handoff: Handoff) -> str | None:
        """Open, save or submit the form: its salesperson, the sending team's manager, the admin.

        A handoff nobody is assigned to is claimed through `/handoff <deal>` (see `may_start`).
        """
        if handoff.status != HandoffStatus.AWAITING_FORM:
            return "This handoff was already submitted; nothing was changed."
        if handoff.sender_user_id == user_id:
            return None
        if self.oversees(user_id, self.sender_team(handoff.kind)):
            return None
        owner = f"<@{handoff.sender_user_id}>" if handoff.sender_user_id else "its salesperson"
        return f"This handoff is {owner}'s to complete. Ask them, or an admin, to reassign it."

    def may_amend(self, user_id: str, handoff: Handoff) -> str | None:
        """Reopen a submitted handoff and submit a new version: its sender or the admin."""
        if handoff.status == HandoffStatus.AWAITING_FORM:
            return "This handoff has not been submitted yet: complete the form instead."
        if handoff.status not in AMENDABLE:
            return "This handoff was cancelled; there is nothing to amend."
        if user_id == handoff.sender_user_id or self.is_admin(user_id):
            return None
        owner = f"<@{handoff.sender_user_id}>" if handoff.sender_user_id else "its salesperson"
        return f"Only {owner} or an admin can amend this handoff. Ask in the thread instead."

    def may_reassign(self, user_id: str, handoff: Handoff, to_user_id: str) -> str | None:
        """Give a pending handoff to another member of the sending team: admin or manager."""
        team = self.sender_team(handoff.kind)
        if not self.oversees(user_id, team):
            name = self.teams.team_name(team)
            return f"Only the admin or the manager of {name} can reassign a handoff."
        if handoff.status != HandoffStatus.AWAITING_FORM:
            return "This handoff was already submitted; there is nothing to reassign."
        if not (self.teams.is_member(team, to_user_id) or self.oversees(to_user_id, team)):
            name = self.teams.team_name(team)
            return f"<@{to_user_id}> is not a member of {name}; pick someone who is."
        return None

    # --- receipts and records -------------------------------------------------------------------

    def may_confirm(self, user_id: str, team: str) -> str | None:
        if self.teams.is_member(team, user_id):
            return None
        name = self.teams.team_name(team)
        return (
            f"Only members of {name} can confirm for {name}. "
            "Ask your question in the thread instead — nothing was changed."
        )

    def may_retry(self, user_id: str, target: str) -> str | None:
        # A record's target is its team's key; a renewal's CRM deal belongs to its receivers.
        if target == renewal_deal.TARGET:
            target = self.org.routes[HandoffKind.RENEWAL_TO_SALES].receivers[0]
        if self.is_admin(user_id) or self.teams.is_member(target, user_id):
            return None
        return "Only the admin or the team that owns this record can retry it."

    def may_resolve_mismatch(self, user_id: str, team: str) -> str | None:
        """Mark a money-check mismatch resolved: the finance team's members, manager, admin."""
        if self.oversees(user_id, team) or self.teams.is_member(team, user_id):
            return None
        name = self.teams.team_name(team)
        return f"Only members of {name}, its manager or the admin can mark this resolved."

    # --- reminders ------------------------------------------------------------------------------

    def may_snooze(self, user_id: str, obligation: Obligation) -> str | None:
        """The people the reminder is for (its owner, else its team's members) and their
        manager."""
        if self.is_manager(user_id, obligation.team):
            return None
        if obligation.owner_user_id:
            if user_id == obligation.owner_user_id:
                return None
            return f"Only <@{obligation.owner_user_id}> can snooze this reminder."
        if obligation.team and self.teams.is_member(obligation.team, user_id):
            return None
        name = self.teams.team_name(obligation.team or "")
        return f"Only members of {name} or its manager can snooze this reminder."
