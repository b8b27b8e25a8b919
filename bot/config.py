"""Configuration: secrets and URLs from the environment, the organisation from one YAML file.

Both are validated at start-up; a mistake names the variable or the key path and what is wrong.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.ports import HistoryKind
from storage.db import DEFAULT_DATABASE_URL

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(Exception):
    """A configuration problem a person can fix; the message says where and how."""


class Settings(BaseSettings):
    """Secrets and URLs, from the environment or a `.env` file."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = DEFAULT_DATABASE_URL
    port: int = 3000
    org_config: Path = Path("org.yml")
    hubspot_token: str | None = None
    hubspot_client_secret: str | None = None
    hubspot_base_url: str = "https://api.hubapi.com"
    public_url: str | None = None  # where HubSpot reaches us; the v3 signature covers the URL
    log_level: str = "INFO"

    def missing_slack_credentials(self) -> list[str]:
        """Names of required Slack variables that are not set, with where to find them."""
        hints = {
            "SLACK_BOT_TOKEN": "api.slack.com/apps > your app > OAuth & Permissions > Bot User "
            "OAuth Token (xoxb-...)",
            "SLACK_SIGNING_SECRET": "api.slack.com/apps > your app > Basic Information > App "
            "Credentials > Signing Secret",
        }
        values = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
        }
        return [f"{name}: {hints[name]}" for name, value in values.items() if not value]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkingHours(Strict):
    timezone: str = "UTC"
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: time = time(9, 0)
    end: time = time(17, 30)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in value if d.lower() not in WEEKDAYS]
        if bad or not value:
            raise ValueError(f"days must be among {', '.join(WEEKDAYS)}; got {list(value)}")
        return tuple(d.lower() for d in value)

    @model_validator(mode="after")
    def _end_after_start(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class Members(Strict):
    """Who belongs to a team: a Slack user group id, explicit user ids, or both."""

    usergroup: str | None = None
    users: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _someone(self) -> Members:
        if not self.usergroup and not self.users:
            raise ValueError("give a usergroup id (S...) or a list of users (U...)")
        return self


class ToolConfig(BaseModel):
    """Which vendor a team uses and that vendor's own settings (checked by its adapter)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    vendor: str

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Team(Strict):
    name: str
    channel: str | None = None
    members: Members
    manager: str | None = None
    working_hours: WorkingHours = WorkingHours()
    tool: ToolConfig | None = None
    # Which amended answers ask this team to confirm again (bot.services.teams.review_audience);
    # unset: from its tool (an ops tool reads delivery, a finance tool finance, none all).
    review: Literal["delivery", "finance", "all"] | None = None


class Ladder(Strict):
    """Business hours after the obligation starts: first a reminder, then an escalation."""

    remind_after_hours: float = Field(gt=0)
    escalate_after_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _escalate_later(self) -> Ladder:
        if self.escalate_after_hours <= self.remind_after_hours:
            raise ValueError("escalate_after_hours must be greater than remind_after_hours")
        return self


class Slas(Strict):
    form: Ladder = Ladder(remind_after_hours=4, escalate_after_hours=8)
    confirm: Ladder = Ladder(remind_after_hours=4, escalate_after_hours=8)
    answer: Ladder = Ladder(remind_after_hours=2, escalate_after_hours=6)


class HistoryConfig(Strict):
    """Which CRM engagements travel with a handoff (`hubspot.history`); emails are opt-in."""

    enabled: bool = True
    notes: bool = True
    calls: bool = True
    meetings: bool = True
    include_emails: bool = False  # email bodies can hold personal data: off unless chosen
    max_entries: int = Field(default=50, ge=1, le=200)
    body_cap: int = Field(default=2000, ge=100, le=10000)  # characters stored per entry
    # Our share of HubSpot's 100 (Free/Starter) or 190 (Pro/Enterprise) requests per 10 s.
    requests_per_10s: int = Field(default=90, ge=1, le=250)

    def kinds(self) -> tuple[HistoryKind, ...]:
        """The kinds switched on, in a stable order; empty when history is off."""
        if not self.enabled:
            return ()
        wanted: list[tuple[HistoryKind, bool]] = [
            ("note", self.notes),
            ("call", self.calls),
            ("meeting", self.meetings),
            ("email", self.include_emails),
        ]
        return tuple(kind for kind, on in wanted if on)


class DraftingConfig(Strict):
    """The organisation's own OpenAI-compatible chat-completions endpoint (`drafting`)."""

    base_url: str  # e.g. https://llm.internal.example/v1
    model: str
    api_key_env: str = "DRAFTING_API_KEY"  # the environment variable holding the key
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL, e.g. https://llm.example/v1")
        return value.rstrip("/")


class HubSpotOrg(Strict):
    pipeline_id: str = "default"
    won_stage: str = "closedwon"
    pending_stage: str
    app_id: str | None = None  # our private app's id: events it caused are ours
    portal_id: str | None = None
    accept_v1_signatures: bool = False
    # Seconds between CRM sweeps for won deals (the trigger in Socket Mode, the safety net
    # behind the webhook over HTTP); 0 turns the sweep off.
    sweep_seconds: int = Field(default=120, ge=0)
    history: HistoryConfig = HistoryConfig()
    # The portal's own deal properties holding the contract dates (HubSpot has no standard ones).
    term_start_property: str | None = None
    term_end_property: str | None = None


class VendorLimit(Strict):
    """One outbox lane's limits: concurrent jobs per worker process, and requests per minute
    (with a burst allowance) shared by every process. Defaults: `bot.services.lanes`."""

    concurrency: int = Field(ge=1, le=64)
    per_minute: float = Field(gt=0)
    burst: float = Field(ge=1)


LANES = ("slack", "hubspot", "asana", "jira", "quickbooks", "xero", "default")


class BillingOrg(Strict):
    """How finance wants amounts split: which instalment carries what an even split leaves."""

    remainder: Literal["first", "last"] = "last"


class DeliveryOrg(Strict):
    """Delivery complete -> finance (issue 9): how the app learns an account's delivery is done."""

    # Seconds between checks of each open account's project (Asana) or issue (Jira): the trigger
    # in Socket Mode, a safety net behind the webhooks over HTTP; 0 turns the check off.
    check_seconds: int = Field(default=900, ge=0)
    # Register an Asana webhook on each project the app creates (HTTP mode with PUBLIC_URL).
    asana_webhooks: bool = True


class RenewalsOrg(Strict):
    """The renewal handoff the calendar opens before each agreed term end (`renewals`)."""

    # Calendar days before the agreed term end; 0 turns the calendar off (`/handoff renewal`
    # still starts one by hand).
    notice_days: int = Field(default=60, ge=0, le=730)
    # Where the submitted renewal's HubSpot deal is created: the pipeline (default
    # `hubspot.pipeline_id`) and the stage id (HubSpot's default pipeline starts here).
    pipeline_id: str | None = None
    deal_stage: str = Field(default="appointmentscheduled", min_length=1)


class MoneyCheckOrg(Strict):
    """The nightly money-leak check (`money_check`): CRM deal, agreed billing and finance tool."""

    enabled: bool = True
    # The finance team's local hour from which the night's check runs (each handoff once a day).
    hour: int = Field(default=2, ge=0, le=23)
    # Amounts differing by at most this much (in the contract currency) count as the same.
    tolerance: Decimal = Field(default=Decimal("0.00"), ge=0)


class Route(Strict):
    """Who sends and who receives a kind of handoff."""

    sender: str
    receivers: tuple[str, ...]


class OrgConfig(Strict):
    handoff_channel: str
    admin_user: str
    teams: dict[str, Team]
    routes: dict[str, Route] = {
        "sales_to_delivery": Route(sender="sales", receivers=("ops", "finance")),
        "delivery_to_finance": Route(sender="ops", receivers=("finance",)),
        "renewal_to_sales": Route(sender="ops", receivers=("sales",)),
    }
    crm: Literal["hubspot"] = "hubspot"
    hubspot: HubSpotOrg
    slas: Slas = Slas()
    holidays: tuple[date, ...] = ()
    limits: dict[str, VendorLimit] = {}

    @field_validator("limits")
    @classmethod
    def _known_lanes(cls, value: dict[str, VendorLimit]) -> dict[str, VendorLimit]:
        unknown = sorted(set(value) - set(LANES))
        if unknown:
            raise ValueError(f"unknown lane {', '.join(unknown)}; use one of {', '.join(LANES)}")
        return value

    drafting: DraftingConfig | None = None  # off unless configured: nothing leaves otherwise
    billing: BillingOrg = BillingOrg()
    delivery: DeliveryOrg = DeliveryOrg()
    renewals: RenewalsOrg = RenewalsOrg()
    money_check: MoneyCheckOrg = MoneyCheckOrg()

    @model_validator(mode="after")
    def _routes_name_teams(self) -> OrgConfig:
        for kind, route in self.routes.items():
            for team in (route.sender, *route.receivers):
                if team not in self.teams:
                    raise ValueError(
                        f"routes.{kind} names team {team!r}, which is not under teams "
                        f"(known: {', '.join(self.teams)})"
                    )
        return self

    def team(self, key: str) -> Team:
        return self.teams[key]


def load_org_config(path: Path) -> OrgConfig:
    """Read and validate the organisation file; raise ConfigError naming each bad key."""
    if not path.is_file():
        raise ConfigError(
            f"organisation file {path} not found: copy org.example.yml to {path} and edit it, "
            "or set ORG_CONFIG to its path"
        )
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return parse_org_config(raw, source=str(path))


def parse_org_config(raw: Any, *, source: str = "organisation file") -> OrgConfig:
    try:
        return OrgConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError(f"{source} has {len(lines)} problem(s):\n" + "\n".join(lines)) from exc
