"""Handoff forms: pydantic models to Block Kit modals and back. Pure: no I/O, no app imports."""
