"""Check recorded requests against the vendors' own OpenAPI descriptions in shared/contracts."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from requests import Request

from tests.support.stub_server import Recorded

DEFAULT_CONTRACTS = Path(__file__).resolve().parents[2].parent / "shared" / "contracts"


def contracts_dir() -> Path:
    """shared/contracts beside the checkout (CI lays a copy there), or $CONTRACTS_DIR."""
    path = Path(os.environ.get("CONTRACTS_DIR") or DEFAULT_CONTRACTS)
    if not path.is_dir():
        raise FileNotFoundError(
            f"vendor contracts not found at {path}: keep shared/ beside the checkout "
            "or set CONTRACTS_DIR"
        )
    return path


@functools.cache
def load_spec(relative: str) -> OpenAPI:
    """An OpenAPI validator for one spec file; strict spec checks are off (upstream quirks)."""
    path = contracts_dir() / relative
    text = path.read_text()
    spec: dict[str, Any] = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return OpenAPI.from_dict(spec, config=_lenient_config())


def _lenient_config() -> Any:
    from openapi_core import Config

    return Config(spec_validator_cls=None)


def server_url(relative: str) -> str:
    """The first `servers` URL of a spec: recorded requests are replayed against it."""
    return _first_server(relative)


@functools.cache
def _first_server(relative: str) -> str:
    path = contracts_dir() / relative
    text = path.read_text()
    spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return str(spec["servers"][0]["url"])


def assert_matches_spec(relative: str, recorded: Recorded, *, strip_prefix: str = "") -> None:
    """Raise AssertionError naming every way `recorded` breaks the spec at `relative`."""
    spec = load_spec(relative)
    path = recorded.path[len(strip_prefix) :] if strip_prefix else recorded.path
    url = _first_server(relative).rstrip("/") + path
    headers = {k: v for k, v in recorded.headers.items() if k.lower() != "host"}
    request = Request(
        recorded.method,
        url,
        params={k: v[-1] for k, v in recorded.query.items()},
        data=recorded.body or None,
        headers=headers,
    ).prepare()
    errors = list(spec.iter_request_errors(RequestsOpenAPIRequest(request)))
    # Security is the stand-in's business (tests use fake tokens); shapes are what we check.
    errors = [e for e in errors if "Security" not in type(e).__name__]
    if errors:
        details = "; ".join(
            f"{type(e).__name__}: {e} {getattr(e, '__cause__', '')}" for e in errors
        )
        raise AssertionError(f"{recorded.method} {path} breaks {relative}: {details}")
