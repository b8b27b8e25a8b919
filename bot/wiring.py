"""Builds every dependency in one place: settings, engine, adapters, services (no import I/O)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from pydantic import ValidationError
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.config import ConfigError, OrgConfig, Settings
from bot.render.mrkdwn import escape
from bot.services import renewal_deal
from bot.services.amendments import AmendmentService
from bot.services.delivery_complete import DeliveryComplete
from bot.services.delivery_hooks import DeliveryHooks
from bot.services.digest import DigestService
from bot.services.effects import Effects, Tools
from bot.services.effects_amend import AmendmentEffects
from bot.services.handoffs import HandoffService
from bot.services.history import HistoryService
from bot.services.home import HomeService
from bot.services.lanes import LaneRouter, SqlRateLimiter, merged_limits
from bot.services.money_check import MoneyCheckService
from bot.services.obligations import ObligationBook
from bot.services.outbox import Kicker, OutboxRunner, OutboxWorker
from bot.services.permissions import Permissions
from bot.services.ports import Clock, Messenger, system_clock
from bot.services.reminders import ReminderService
from bot.services.renewals import RenewalService
from bot.services.teams import TeamDirectory
from bot.services.token_store import SqlTokenStore
from bot.slack_messenger import SlackMessenger, make_web_client
from integrations import registry
from integrations.asana_webhooks import AsanaWatch
from integrations.delivery_watch import CompletionWatch, build_watch
from integrations.drafting import Drafter, build_drafter
from integrations.ports import Crm, FinanceTool, OpsTool
from integrations.registry import VendorContext
from storage.db import create_engine_for, session_factory
from storage.migrate import upgrade
from storage.notify import outbox_listener
from storage.sqlite_gate import mark_background_thread
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    org: OrgConfig
    engine: Engine
    clock: Clock
    uow: UnitOfWorkFactory
    client: WebClient
    messenger: Messenger
    teams: TeamDirectory
    crm: Crm | None
    handoffs: HandoffService
    effects: Effects
    outbox: OutboxWorker
    kick: Callable[[], None]
    interactions: Executor  # Slack calls answering a click, off Bolt's acknowledging threads
    background: Executor  # slower work a click started (CRM look-ups), off both
    obligations: ObligationBook
    reminders: ReminderService
    digests: DigestService
    home: HomeService
    delivery: DeliveryComplete
    delivery_hooks: DeliveryHooks
    renewals: RenewalService
    amendments: AmendmentService
    money_check: MoneyCheckService


def build_services(
    settings: Settings,
    org: OrgConfig,
    *,
    clock: Clock = system_clock,
    env: dict[str, str] | None = None,
    executor: Executor | None = None,
    migrate: bool = True,
    sleep: Callable[[float], None] | None = None,
) -> Services:
    """Wire the whole app. `executor`, when given (tests: an inline one), runs the outbox drains
    kicked by each change and every piece of work a listener hands off; without it the app
    runs those on bounded pools and the outbox on an `OutboxRunner` (see `start_outbox`)."""
    engine = create_engine_for(settings.database_url)
    if migrate:
        upgrade(engine)
    limits = merged_limits(org.limits)
    team_vendors = {k: t.tool.vendor for k, t in org.teams.items() if t.tool is not None}
    lanes = LaneRouter({**team_vendors, renewal_deal.TARGET: org.crm})  # a renewal's CRM deal
    uow = UnitOfWorkFactory(session_factory(engine), clock, lanes)
    client = make_web_client(
        settings.slack_bot_token, settings.slack_api_url, **({"sleep": sleep} if sleep else {})
    )
    messenger = SlackMessenger(client)
    teams = TeamDirectory(org, messenger, clock)
    permissions = Permissions(org, teams)

    def warn_admin(vendor: str, message: str) -> None:
        try:
            messenger.post(org.admin_user, f":warning: {vendor}: {escape(message)}")
        except Exception:
            log.exception("admin_warning_failed vendor=%s", vendor)

    limiter = SqlRateLimiter(uow, limits, **({"sleep": sleep} if sleep else {}))
    vendor_ctx = VendorContext(
        env=dict(os.environ if env is None else env),
        token_store=SqlTokenStore(uow),
        warn_admin=warn_admin,
        throttle=limiter.acquire,
        **({"sleep": sleep} if sleep else {}),
    )
    crm = _build_crm(settings, org, vendor_ctx)
    ops, finance = _build_team_tools(org, vendor_ctx)

    outbox = OutboxWorker(uow=uow, clock=clock)
    if executor is not None:
        kick = Kicker(outbox.drain, executor).kick
        interactions = background = executor
    else:
        # Set by `start_outbox` in processes that run the outbox; a web-only process relies on
        # the workers' PostgreSQL LISTEN (the enqueue's NOTIFY) instead.
        kick = _Wake()
        # Small on purpose: they share the GIL with the threads that answer Slack, and a
        # views.open is quick; what waits on a vendor goes to `background`.
        interactions = ThreadPoolExecutor(max_workers=4, thread_name_prefix="slack-ui")
        background = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="background", initializer=mark_background_thread
        )
    obligations = ObligationBook(org)
    home = HomeService(uow_factory=uow, org=org, messenger=messenger, clock=clock, teams=teams)
    handoffs = HandoffService(
        uow, org, clock, obligations, home=home, kick=kick, permissions=permissions
    )
    effects = Effects(uow, org, clock, messenger, Tools(crm, ops, finance), handoffs, teams)
    history = HistoryService(uow, org, clock, crm, _build_drafter(org, vendor_ctx))
    watches = _build_watches(org, vendor_ctx)
    delivery = DeliveryComplete(uow, org, clock, handoffs, permissions, watches, kick)
    delivery_hooks = DeliveryHooks(
        uow, _asana_hooks(settings, org, watches), settings.public_url, kick
    )
    amendments = AmendmentService(uow, org, clock, obligations, permissions, home=home, kick=kick)
    amend_effects = AmendmentEffects(
        uow, org, clock, messenger, Tools(crm, ops, finance), handoffs, teams
    )
    outbox.register(
        {
            **effects.handlers(),
            **home.handlers(),
            **history.handlers(),
            **delivery.handlers(),
            **delivery_hooks.handlers(),
            **amend_effects.handlers(),
        }
    )
    outbox.on_dead = effects.on_dead
    outbox.on_retry = effects.on_retry
    reminders = ReminderService(
        uow_factory=uow, org=org, book=obligations, clock=clock, permissions=permissions
    )
    digests = DigestService(uow_factory=uow, org=org, clock=clock)
    renewals = RenewalService(uow, org, clock, obligations, messenger, teams, home=home, kick=kick)
    money_check = MoneyCheckService(
        uow, org, clock, messenger, crm, finance, teams, permissions, kick=kick
    )
    return Services(
        settings=settings,
        org=org,
        engine=engine,
        clock=clock,
        uow=uow,
        client=client,
        messenger=messenger,
        teams=teams,
        crm=crm,
        handoffs=handoffs,
        effects=effects,
        outbox=outbox,
        kick=kick,
        interactions=interactions,
        background=background,
        obligations=obligations,
        reminders=reminders,
        digests=digests,
        home=home,
        delivery=delivery,
        delivery_hooks=delivery_hooks,
        renewals=renewals,
        amendments=amendments,
        money_check=money_check,
    )


class _Wake:
    """The outbox kick of a process: wakes its runner once `start_outbox` has made one."""

    def __init__(self) -> None:
        self.runner: OutboxRunner | None = None

    def __call__(self) -> None:
        if self.runner is not None:
            self.runner.wake()


def start_outbox(services: Services) -> OutboxRunner:
    """Run the outbox in this process: one pool per lane, woken by local and remote enqueues."""
    limits = merged_limits(services.org.limits)
    runner = OutboxRunner(
        services.outbox,
        {lane: limit.concurrency for lane, limit in limits.items()},
        listen=outbox_listener(services.engine),
    )
    if isinstance(services.kick, _Wake):
        services.kick.runner = runner
    runner.start()
    return runner


def _build_crm(settings: Settings, org: OrgConfig, ctx: VendorContext) -> Crm | None:
    if not settings.hubspot_token:
        log.warning("crm_disabled reason=HUBSPOT_TOKEN not set")
        return None
    env = {**ctx.env, "HUBSPOT_TOKEN": settings.hubspot_token}
    return registry.build_crm(
        org.crm,
        {
            "base_url": settings.hubspot_base_url,
            "portal_id": org.hubspot.portal_id,
            "history_requests_per_10s": org.hubspot.history.requests_per_10s,
            "term_start_property": org.hubspot.term_start_property,
            "term_end_property": org.hubspot.term_end_property,
        },
        VendorContext(
            env=env, token_store=ctx.token_store, sleep=ctx.sleep, warn_admin=ctx.warn_admin
        ),
    )


def _build_watches(org: OrgConfig, ctx: VendorContext) -> dict[str, CompletionWatch]:
    """What reads each ops team's project or issue state (issue 9), by team key."""
    return {
        key: build_watch(team.tool.vendor, team.tool.settings(), ctx)
        for key, team in org.teams.items()
        if team.tool is not None and team.tool.vendor in registry.OPS_VENDORS
    }


def _asana_hooks(
    settings: Settings, org: OrgConfig, watches: dict[str, CompletionWatch]
) -> dict[str, AsanaWatch]:
    """The Asana teams whose projects get webhooks: only over HTTP, where Asana can reach us."""
    if not org.delivery.asana_webhooks or not settings.public_url or settings.slack_app_token:
        return {}
    return {key: watch for key, watch in watches.items() if isinstance(watch, AsanaWatch)}


def _build_drafter(org: OrgConfig, ctx: VendorContext) -> Drafter | None:
    """The organisation's language model, only when `drafting` is configured."""
    if org.drafting is None:
        return None
    config = org.drafting
    try:
        return build_drafter(
            config.base_url, config.model, config.api_key_env, config.timeout_seconds, ctx.env
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _build_team_tools(
    org: OrgConfig, ctx: VendorContext
) -> tuple[dict[str, OpsTool], dict[str, FinanceTool]]:
    """Each team's adapter; a bad settings block or a missing token names the team's key."""
    ops: dict[str, OpsTool] = {}
    finance: dict[str, FinanceTool] = {}
    for key, team in org.teams.items():
        if team.tool is None:
            continue
        vendor = team.tool.vendor
        where = f"teams.{key}.tool ({vendor})"
        try:
            if vendor in registry.OPS_VENDORS:
                ops[key] = registry.build_ops(vendor, team.tool.settings(), ctx)
            elif vendor in registry.FINANCE_VENDORS:
                finance[key] = registry.build_finance(vendor, team.tool.settings(), ctx)
            else:
                known = ", ".join(registry.OPS_VENDORS + registry.FINANCE_VENDORS)
                raise ConfigError(f"{where}: unknown vendor; use one of {known}")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{where}: {problems}") from exc
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    return ops, finance


def check_tools(org: OrgConfig, env: dict[str, str]) -> None:
    """Build every team's adapter once (no network) so `check` and start-up fail fast."""
    ctx = VendorContext(env=env, token_store=_NoTokens())
    _build_team_tools(org, ctx)
    _build_drafter(org, ctx)


class _NoTokens:
    """A token store for `check_tools`, which builds adapters but never calls a vendor."""

    def load(self, provider: str, account: str) -> None:
        return None

    def save(self, provider: str, account: str, token: object) -> None:
        raise ConfigError("check_tools must not refresh tokens")

    def locked(self, provider: str, account: str) -> AbstractContextManager[None]:
        return nullcontext()
