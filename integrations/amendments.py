"""An amended handoff brought into the team's tool: the record updated in place, the change noted.

Each vendor's update lives beside its adapter (`asana_amend`, `jira_amend`, `quickbooks_amend`,
`xero_amend`) as a function over the adapter, so the adapters' create paths stay as they are.
Every update is safe to repeat: content is written as a whole (the same write twice changes
nothing), and what is added once (a comment, a story, a history note, a new document) carries
the amendment's marker or the vendor's idempotency key for this version, so a retry finds it
instead of adding it again.
"""

from __future__ import annotations

from datetime import datetime

from integrations.brief_text import marker_tag, utc_text
from integrations.ports import (
    CreatedRecord,
    FinanceTool,
    HandoffBrief,
    OpsTool,
    Record,
    VendorRejected,
)

VALUE_MAX = 300  # characters of each before/after value in a note; the thread has them in full
NOTE_MAX = 4000  # a comment, story or history text (Xero splits it into 250-character records)


class ChangedField(Record):
    """One readable field whose value an amendment changed."""

    section: str
    label: str
    before: str
    after: str


class Amendment(Record):
    """Who amended the handoff, when, to which version, and every field that changed."""

    handoff_id: int
    version: int
    author: str
    amended_at: datetime
    changes: tuple[ChangedField, ...]
    thread_url: str | None = None

    @property
    def marker(self) -> str:
        """Put on the note each tool gets for this version, so a retry finds it again."""
        return f"handoff-{self.handoff_id}-v{self.version}"

    def heading(self) -> str:
        return (
            f"Handoff amended to version {self.version} by {self.author} "
            f"on {utc_text(self.amended_at)}"
        )

    def change_lines(self) -> list[str]:
        """'Billing > Contract value: GBP 36,000.00 -> GBP 40,000.00', one per change."""
        return [
            f"{c.section} > {c.label}: {_one_line(c.before)} -> {_one_line(c.after)}"
            for c in self.changes
        ]

    def text(self, limit: int = NOTE_MAX) -> str:
        """The whole note: heading, one line per change, where to read more, then the marker."""
        tail = f"\n\n{marker_tag(self.marker)}"
        where = f"\nThe Slack thread: {self.thread_url}" if self.thread_url else ""
        lines = [f"{self.heading()}:"]
        budget = limit - len(tail) - len(where)
        for number, line in enumerate(self.change_lines()):
            rest = len(self.changes) - number
            more = f"\n- ...and {rest} more changes (see the Slack thread)"
            if len("\n".join([*lines, f"- {line}"])) + len(more) > budget:
                lines.append(more.strip("\n"))
                break
            lines.append(f"- {line}")
        return "\n".join(lines) + where + tail

    def summary(self) -> str:
        """One line for notes that hold facts, not history: which fields changed, and when."""
        labels = ", ".join(dict.fromkeys(c.label for c in self.changes))
        return f"Amended to version {self.version} on {utc_text(self.amended_at)}: {labels}"


def _one_line(value: str) -> str:
    flat = " / ".join(line.strip() for line in value.splitlines() if line.strip()) or "-"
    return flat if len(flat) <= VALUE_MAX else flat[: VALUE_MAX - 1] + "…"


def update_ops_record(
    tool: OpsTool,
    record: CreatedRecord,
    brief: HandoffBrief,
    amendment: Amendment,
    *,
    look_first: bool,
) -> CreatedRecord:
    """Rewrite the project or issue from the amended brief and note the change on it."""
    from integrations import asana, asana_amend, jira, jira_amend

    if isinstance(tool, asana.AsanaOps):
        return asana_amend.update_project(tool, record, brief, amendment, look_first=look_first)
    if isinstance(tool, jira.JiraOps):
        return jira_amend.update_issue(tool, record, brief, amendment, look_first=look_first)
    raise VendorRejected(tool.vendor, "this tool has no amendment update")


def update_finance_record(
    tool: FinanceTool,
    record: CreatedRecord,
    brief: HandoffBrief,
    amendment: Amendment,
    *,
    idempotency_key: str,
) -> CreatedRecord:
    """Update the customer and billing documents in place from the amended brief, noting it."""
    from integrations import quickbooks, quickbooks_amend, xero, xero_amend

    if isinstance(tool, quickbooks.QuickBooksFinance):
        return quickbooks_amend.update_billing_setup(
            tool, record, brief, amendment, idempotency_key=idempotency_key
        )
    if isinstance(tool, xero.XeroFinance):
        return xero_amend.update_billing_setup(
            tool, record, brief, amendment, idempotency_key=idempotency_key
        )
    raise VendorRejected(tool.vendor, "this tool has no amendment update")
