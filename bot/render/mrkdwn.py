"""Slack mrkdwn in one place: escaping, links, dates and quoting Slack's own message text.

Every string that comes from the CRM, a vendor or a person goes through `escape` before it lands
in a mrkdwn text (a message's `text` fallback too: it drives notifications). Only the app writes
markup (`<@U…>`, `<url|label>`, `<!date…>`), and only from values it controls.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

_TOKEN = re.compile(r"<([^<>]*)>")  # Slack markup, innermost first: `<` never nests in it
_USER = re.compile(r"@[UW][A-Z0-9]+")
_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)&gt;")


def escape(text: str) -> str:
    """Escape &, < and > as Slack requires: untrusted text never becomes a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_keep_mentions(text: str) -> str:
    """Escape like `escape`, keeping `<@U…>` user mentions (how people fields are stored)."""
    return _MENTION.sub(r"<@\1>", escape(text))


def unescape(text: str) -> str:
    """Undo Slack's escaping of a message's text (`&amp;` last, so `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def link(url: str, label: str) -> str:
    """A link the app writes: `url` from a vendor or the CRM cannot break out of the markup."""
    safe_url = escape(url).replace("|", "%7C")
    return f"<{safe_url}|{escape(label)}>"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(moment: datetime, zone: ZoneInfo | None = None) -> str:
    """A date Slack shows in each reader's own time zone; the fallback is in `zone` (or UTC)."""
    stamp = int(moment.timestamp())
    if zone is None:
        fallback = moment.strftime("%d %b %Y %H:%M UTC")
    else:
        fallback = moment.astimezone(zone).strftime("%a %d %b %H:%M %Z")
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{escape(fallback)}>"


def quote(text: str) -> str:
    """A Slack message's own text shown again: as plain escaped text, pinging nobody.

    Slack delivers a message's text escaped, with its markup as `<…>` tokens. User mentions stay
    (they show a name and do not notify on an update); every other token becomes the words it
    shows: `<!here>` -> `@here`, `<!subteam^S1|@ops>` -> `@ops`, `<url|label>` -> `label (url)`.
    Markup that does not close or nests is shown as the characters it is made of.
    """
    out: list[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        out.append(escape(unescape(text[last : match.start()])))
        out.append(_token_words(match.group(1)))
        last = match.end()
    out.append(escape(unescape(text[last:])))
    return "".join(out)


def _token_words(inner: str) -> str:
    target, _, label = inner.partition("|")
    if _USER.fullmatch(target):
        return f"<{target}>"
    if target.startswith("!"):
        words = label or "@" + target[1:].split("^")[0]
    elif target.startswith(("#", "@")):
        words = label or target
        words = words if words.startswith(("#", "@")) else target[0] + words
    else:
        words = f"{label} ({target})" if label and label != target else target
    return escape(unescape(words))
