"""One line per event: `time level logger event key=value ...`. Messages never carry secrets."""

from __future__ import annotations

import logging
import sys


class OneLineFormatter(logging.Formatter):
    """Keeps each event on one line: a vendor's error text or a traceback carries newlines, and
    a log collector would otherwise read each of its lines as an event of its own."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter (HTTP connection pools) would drown the event lines.
    for noisy in ("urllib3", "slack_sdk.web.base_client", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
