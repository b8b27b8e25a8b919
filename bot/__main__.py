"""Command line: `python -m bot [serve|web|worker|migrate|check|manifest|connect|...|backfill]`.

serve   (default) everything in one process: Socket Mode when SLACK_APP_TOKEN is set, else HTTP
        on PORT under gunicorn; the scheduler runs in the same process.
web     HTTP only, for the Procfile's web process (gunicorn; scale it out freely).
worker  the scheduler only (outbox, reminders, digests), for the Procfile's worker process.
migrate bring the database to the newest schema and exit.
check   validate the environment and the organisation file, and exit; with --live, prove every
        setting against the real services (one line each) and exit non-zero on any failure.
manifest --url URL   print the Slack app manifest for HTTP mode, request URLs filled in.
connect quickbooks|xero   connect a finance tool through its OAuth consent screen.
jira-webhook [--team KEY]   print the URL and secret of the Jira webhook that says an account's
        issue is done (delivery complete -> finance).
backfill --csv FILE | --from-hubspot --since DATE [--term-months N] [--apply] [--create-records]
        bring historic accounts in as handoffs marked historic; a dry run unless --apply;
        vendor records only with --create-records; exit 1 when any row failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from bot.config import ConfigError, OrgConfig, Settings, load_org_config
from bot.logging_setup import configure_logging

log = logging.getLogger("bot")


def _settings_and_org(require_slack: bool) -> tuple[Settings, OrgConfig]:
    settings = Settings()
    missing = settings.missing_slack_credentials() if require_slack else []
    if missing:
        lines = "\n".join(f"  - {m}" for m in missing)
        raise ConfigError(
            f"Slack credentials are missing. Set these (in the environment or in .env):\n{lines}\n"
            "Create the app from app_manifest.yml first; see README.md, Quick start, step 1."
        )
    return settings, load_org_config(settings.org_config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="handoff", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=[
            "serve",
            "web",
            "worker",
            "migrate",
            "check",
            "manifest",
            "connect",
            "jira-webhook",
            "backfill",
        ],
    )
    parser.add_argument("vendor", nargs="?", help="connect: quickbooks or xero")
    parser.add_argument("--live", action="store_true", help="check: call every service")
    parser.add_argument("--url", help="manifest: the app's public https URL")
    parser.add_argument("--team", help="connect, jira-webhook: the team whose tool it is")
    _backfill_flags(parser)
    args = parser.parse_args(argv)
    try:
        if args.command == "manifest":
            return _manifest(parser, args.url)
        if args.command == "check" and args.live:
            return _live_check()
        if args.command == "connect":
            return _connect(parser, args.vendor, args.team)
        if args.command == "jira-webhook":
            return _jira_webhook(args.team)
        if args.command == "backfill":
            return _backfill(parser, args)
        return _run(args.command)
    except ConfigError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return 2


def _manifest(parser: argparse.ArgumentParser, url: str | None) -> int:
    from bot.manifest import http_manifest, render

    if not url:
        parser.error("manifest needs --url https://your-public-host")
    try:
        print(render(http_manifest(url)), end="")
    except ValueError as exc:
        parser.error(str(exc))
    return 0


def _live_check() -> int:
    from bot.live_check import run_live_check

    settings, org = _settings_and_org(require_slack=False)
    configure_logging("WARNING")
    return run_live_check(settings, org, dict(os.environ), print)


def _connect(parser: argparse.ArgumentParser, vendor: str | None, team: str | None) -> int:
    from bot.connect import VENDORS, run_connect

    if vendor not in VENDORS:
        parser.error(f"connect needs a vendor: {' or '.join(VENDORS)}")
    settings, org = _settings_and_org(require_slack=False)
    configure_logging(settings.log_level)
    return run_connect(settings, org, vendor, team, dict(os.environ), print)


def _jira_webhook(team: str | None) -> int:
    from bot.jira_webhook import run_jira_webhook

    settings, org = _settings_and_org(require_slack=False)
    configure_logging(settings.log_level)
    return run_jira_webhook(settings, org, team, print)


def _backfill_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backfill")
    group.add_argument(
        "--csv", type=Path, metavar="FILE", help="backfill: historic deals from FILE"
    )
    group.add_argument(
        "--from-hubspot", action="store_true", help="backfill: closed-won deals from HubSpot"
    )
    group.add_argument(
        "--since", type=date.fromisoformat, metavar="DATE", help="backfill: closed on/after DATE"
    )
    group.add_argument(
        "--term-months",
        type=int,
        metavar="N",
        help="backfill --from-hubspot: the term (from its start) when HubSpot holds no term end",
    )
    group.add_argument("--apply", action="store_true", help="backfill: write (default: dry run)")
    group.add_argument(
        "--create-records",
        action="store_true",
        help="backfill: also create each team's vendor records (Asana, Jira, QuickBooks, Xero)",
    )


def _backfill(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from bot.backfill_command import BackfillArgs, run_backfill
    from bot.wiring import build_services, check_tools

    if (args.csv is None) == (not args.from_hubspot):
        parser.error("backfill needs exactly one of --csv FILE or --from-hubspot --since DATE")
    if args.from_hubspot and args.since is None:
        parser.error("backfill --from-hubspot needs --since DATE (YYYY-MM-DD)")
    if args.term_months is not None and not 0 < args.term_months <= 120:
        parser.error("--term-months must be from 1 to 120")
    settings, org = _settings_and_org(require_slack=True)
    configure_logging(settings.log_level)
    check_tools(org, dict(os.environ))
    options = BackfillArgs(
        csv=args.csv,
        from_hubspot=args.from_hubspot,
        since=args.since,
        apply=args.apply,
        create_records=args.create_records,
        term_months=args.term_months,
    )
    return run_backfill(build_services(settings, org), options, sys.stdout, sys.stderr)


def _run(command: str) -> int:
    from bot.wiring import build_services, check_tools

    if command == "migrate":
        settings = Settings()
        configure_logging(settings.log_level)
        from storage.db import create_engine_for
        from storage.migrate import upgrade

        upgrade(create_engine_for(settings.database_url))
        log.info("migrated database")
        return 0
    settings, org = _settings_and_org(require_slack=True)
    configure_logging(settings.log_level)
    check_tools(org, dict(os.environ))
    if command == "check":
        print("handoff: configuration OK")
        return 0
    services = build_services(settings, org)
    if command == "worker":
        from bot.worker import run_blocking

        run_blocking(services)
        return 0
    if command == "serve" and settings.slack_app_token:
        return _socket_mode(services)
    return _http(services, with_worker=command == "serve")


def _socket_mode(services: Any) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_app
    from bot.worker import start_background

    start_background(services)
    log.info("socket_mode_starting")
    handler = SocketModeHandler(create_app(services), services.settings.slack_app_token)
    handler.start()  # type: ignore[no-untyped-call]
    return 0


def _http(services: Any, *, with_worker: bool) -> int:
    from bot.server import serve

    serve(services, with_worker=with_worker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
