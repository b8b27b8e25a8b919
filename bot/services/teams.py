"""Who belongs to which team, from the organisation file and Slack user groups."""

from __future__ import annotations

import logging

from bot.config import OrgConfig
from bot.services.ports import Messenger

log = logging.getLogger(__name__)


class TeamDirectory:
    def __init__(self, org: OrgConfig, messenger: Messenger) -> None:
        self.org = org
        self.messenger = messenger

    def members(self, team_key: str) -> list[str]:
        """Every user id of a team: listed users plus the user group's members."""
        team = self.org.teams.get(team_key)
        if team is None:
            return []
        users = list(team.members.users)
        if team.members.usergroup:
            try:
                users += self.messenger.usergroup_members(team.members.usergroup)
            except Exception:  # Slack down: fall back to the listed users, say so in the log
                log.warning("usergroup_lookup_failed team=%s", team_key)
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
