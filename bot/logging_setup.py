"""One line per event: `time level logger event key=value ...`. Messages never carry secrets."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter (HTTP connection pools) would drown the event lines.
    for noisy in ("urllib3", "slack_sdk.web.base_client", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
