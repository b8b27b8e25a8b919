"""Who belongs to which team, from the organisation file and Slack user groups.

The one place team membership is answered (Confirm buttons, thread questions, the App Home);
user groups are cached for a few minutes so a busy thread does not ask Slack on every message.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from bot.config import OrgConfig
from bot.services.ports import Clock, Messenger, system_clock
from integrations.registry import FINANCE_VENDORS, OPS_VENDORS

log = logging.getLogger(__name__)


class TeamDirectory:
    def __init__(
        self,
        org: OrgConfig,
        messenger: Messenger,
        clock: Clock = system_clock,
        group_ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self.org = org
        self.messenger = messenger
        self._clock = clock
        self._ttl = group_ttl
        self._groups: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, team_key: str) -> list[str]:
        """Every user id of a team: listed users plus the user group's members."""
        team = self.org.teams.get(team_key)
        if team is None:
            return []
        users = list(team.members.users)
        if team.members.usergroup:
            users += sorted(self._group(team.members.usergroup))
        return list(dict.fromkeys(users))

    def is_member(self, team_key: str, user_id: str) -> bool:
        return user_id in self.members(team_key)

    def teams_of(self, user_id: str) -> list[str]:
        return [key for key in self.org.teams if self.is_member(key, user_id)]

    def mention(self, team_key: str) -> str:
        """How to @-mention a team in a message: its user group, else each member."""
        team = self.org.teams[team_key]
        if team.members.usergroup:
            return f"<!subteam^{team.members.usergroup}>"
        return " ".join(f"<@{u}>" for u in team.members.users)

    def team_name(self, team_key: str) -> str:
        team = self.org.teams.get(team_key)
        return team.name if team else team_key

    def _group(self, group_id: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._groups.get(group_id)
            if cached and cached[0] > now:
                return cached[1]
        try:
            members = frozenset(self.messenger.usergroup_members(group_id))
        except Exception as exc:  # Slack down: listed users still count; ask again next time
            log.warning("usergroup_lookup_failed group=%s error=%s", group_id, exc)
            return frozenset()
        with self._lock:
            self._groups[group_id] = (now + self._ttl, members)
        return members


def review_audience(org: OrgConfig, team_key: str) -> str:
    """Which amended answers a team confirms again: "delivery", "finance" or "all" (see
    forms.changes). The team's `review` setting, else its tool's side, else all of them."""
    team = org.teams.get(team_key)
    if team is None:
        return "all"
    if team.review is not None:
        return team.review
    vendor = team.tool.vendor if team.tool else None
    if vendor in OPS_VENDORS:
        return "delivery"
    if vendor in FINANCE_VENDORS:
        return "finance"
    return "all"
