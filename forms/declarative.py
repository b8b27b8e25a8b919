"""The generic FormSpec: a layout of sections plus a pydantic model make a whole handoff form."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic

from pydantic import BaseModel, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from forms.base import FormValues, M, Sections, modal_title
from forms.display import mrkdwn_escape, summary_blocks
from forms.errors import clip, humanize
from forms.ids import ActionId, BlockId, CallbackId
from forms.layout import Field, Kind, Section, display_value, input_block
from forms.steps import ALL_STEPS, Step, fields_of, step_of


@dataclass(frozen=True)
class DeclarativeForm(Generic[M]):
    """A FormSpec driven by a layout of sections and a pydantic model."""

    kind: str
    title: str
    callback_id: CallbackId
    model: type[M]
    layout: tuple[Section, ...]
    title_prefix: str
    intro: str
    schema_version: int = 1
    submit_label: str = "Submit handoff"
    name_field: str = "account_name"
    upgrade: Callable[[dict[str, Any], int], dict[str, Any]] | None = None
    steps: tuple[Step, ...] = ()
    _required: dict[str, bool] = field(init=False, repr=False, compare=False)
    _step_fields: list[set[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        required = {f.name: _is_required(self.model, f.model_path) for f in self.all_fields()}
        object.__setattr__(self, "_required", required)
        sections = {section.title: section.fields for section in self.layout}
        object.__setattr__(self, "_step_fields", [fields_of(s, sections) for s in self.steps])
        stepped = set().union(*self._step_fields) if self.steps else set()
        missing = {str(f.name) for f in self.all_fields()} - stepped
        if self.steps and missing:
            raise ValueError(f"{self.kind}: fields in no step: {sorted(missing)}")

    # --- steps ------------------------------------------------------------------------------

    def step_count(self) -> int:
        """How many screens the form takes (1 without steps)."""
        return max(1, len(self.steps))

    def step_of(self, values: Mapping[str, Any]) -> int:
        """The 1-based step these values are on (the draft's record, else inferred)."""
        return step_of(values, self._step_fields) if self.steps else 1

    def step_field_names(self, step: int) -> set[str]:
        """The block ids shown on `step`."""
        return self._step_fields[step - 1] if self.steps else {f.name for f in self.all_fields()}

    def step_with(self, name: str) -> int:
        """The step that shows the field `name`."""
        return next(
            (n for n in range(1, self.step_count() + 1) if name in self.step_field_names(n)), 1
        )

    def all_fields(self) -> list[Field]:
        """Every field in layout order."""
        return [f for section in self.layout for f in section.fields]

    def visible_fields(self, values: FormValues, *, step: int | None = None) -> list[Field]:
        """The fields shown for these values (on one step, or all: the ones parse reads)."""
        names = self.step_field_names(step) if step is not None else None
        return [
            f for f in self.all_fields() if f.shown(values) and (names is None or f.name in names)
        ]

    def build_modal(
        self,
        values: FormValues,
        *,
        private_metadata: str,
        errors_summary: str | None = None,
        step: int | None = None,
    ) -> View:
        """The editable modal, showing values (a prefill or a draft) as initial values.

        A stepped form shows the step the values are on (`step` overrides; ALL_STEPS shows
        every section in one modal).
        """
        # Ids never change between renders, so when views.update re-renders the modal (the
        # schedule changed) Slack keeps whatever the user has typed so far.
        blocks: list[Block] = [
            ContextBlock(block_id=BlockId.INTRO, elements=[MarkdownTextObject(text=self.intro)])
        ]
        step = self.step_of(values) if step is None else step
        whole = not self.steps or step == ALL_STEPS
        if not whole:
            blocks.append(self._progress(step))
        shown_sections = None if whole else set(self.steps[step - 1].sections)
        if errors_summary:
            # Shown as given: callers also use it for notes such as "Draft saved".
            text = clip(mrkdwn_escape(errors_summary), 3000)
            blocks.append(
                SectionBlock(block_id=BlockId.ERRORS_SUMMARY, text=MarkdownTextObject(text=text))
            )
        for section in self.layout:
            if shown_sections is not None and section.title not in shown_sections:
                continue
            shown = [f for f in section.fields if f.shown(values)]
            if not shown:
                continue
            if any(isinstance(b, HeaderBlock) for b in blocks):
                blocks.append(DividerBlock())
            blocks.append(HeaderBlock(text=PlainTextObject(text=section.title)))
            blocks.extend(
                input_block(f, values, optional=not self._required[f.name]) for f in shown
            )
        save = ButtonElement(
            text=PlainTextObject(text="Save draft"), action_id=ActionId.SAVE_DRAFT, value=self.kind
        )
        buttons = [save]
        if not whole and step > 1:
            # Slack modals have one submit button: going back is an actions-block button whose
            # listener keeps what this step holds in the draft and shows the step before.
            back = ButtonElement(
                text=PlainTextObject(text=f"Back to step {step - 1}"),
                action_id=ActionId.STEP_BACK,
                value=str(step),
            )
            buttons = [back, save]
        blocks.append(ActionsBlock(block_id=BlockId.DRAFT_ACTIONS, elements=buttons))
        name = values.get(self.name_field)
        return View(
            type="modal",
            callback_id=self.callback_id,
            title=PlainTextObject(
                text=modal_title(self.title_prefix, name if isinstance(name, str) else None)
            ),
            submit=PlainTextObject(
                text=self.submit_label if whole or step == self.step_count() else "Next"
            ),
            close=PlainTextObject(text="Save & close"),
            blocks=blocks,
            private_metadata=private_metadata,
            notify_on_close=True,  # view_closed carries the state, and the app saves it as a draft
        )

    def parse(self, values: FormValues, *, today: date | None = None) -> M | dict[str, str]:
        """The validated model, or one short message per block_id of the shown fields.

        `today` turns on the rules about the submission day (no kickoff in the past); stored
        payloads are re-read without it, so a handoff never becomes invalid by ageing.
        """
        shown = self.visible_fields(values)
        try:
            return self.model.model_validate(_model_input(shown, values), context={"today": today})
        except ValidationError as exc:
            errors: dict[str, str] = {}
            for error in exc.errors():
                target = _field_for(error["loc"], shown)
                errors.setdefault(str(target.name), humanize(error, kind=target.kind))
            return errors

    def _progress(self, step: int) -> ContextBlock:
        """'*Step 2 of 3: Scope and dates* · Next: Billing'."""
        text = f"*Step {step} of {len(self.steps)}: {self.steps[step - 1].title}*"
        if step < len(self.steps):
            text += f" · Next: {self.steps[step].title}"
        return ContextBlock(block_id=BlockId.PROGRESS, elements=[MarkdownTextObject(text=text)])

    def load(self, payload: Mapping[str, Any], schema_version: int) -> M:
        """A stored submission as the model, upgraded from the schema version it was saved with.

        Rules added after it was submitted are not applied to it (context `stored_version`).
        """
        data = dict(payload)
        if schema_version < self.schema_version and self.upgrade is not None:
            data = self.upgrade(data, schema_version)
        return self.model.model_validate(data, context={"stored_version": schema_version})

    def error_summary(self, errors: Mapping[str, str]) -> str:
        """':warning: 2 answers need a look: Buyer: email, Term end.' (for errors_summary)."""
        labels = [f.label for f in self.all_fields() if f.name in errors]
        noun = "answer needs" if len(labels) == 1 else "answers need"
        return clip(f":warning: {len(labels)} {noun} a look: {', '.join(labels)}.", 3000)

    def sections(self, model: M) -> Sections:
        """Every field as readable (section title, [(label, value)])."""
        return [
            (
                section.title,
                [(row.label, row.render(model)) for row in section.rows]
                if section.rows is not None
                else [(f.label, display_value(f, model)) for f in section.fields],
            )
            for section in self.layout
        ]

    def readonly_view(self, model: M, *, private_metadata: str) -> View:
        """The submitted form as a read-only modal (within Slack's 100 blocks)."""
        name = getattr(model, self.name_field, None)
        return View(
            type="modal",
            callback_id=CallbackId.READONLY,
            title=PlainTextObject(text=modal_title(self.title_prefix, name)),
            close=PlainTextObject(text="Close"),
            blocks=summary_blocks(self.sections(model), max_blocks=100),
            private_metadata=private_metadata,
        )


def _is_required(model: type[BaseModel], path: Sequence[str]) -> bool:
    info = model.model_fields.get(path[0])
    if info is None or not info.is_required():
        return False
    if len(path) == 1:
        return True
    inner = info.annotation
    return (
        isinstance(inner, type) and issubclass(inner, BaseModel) and _is_required(inner, path[1:])
    )


def _model_input(shown: Sequence[Field], values: FormValues) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in shown:
        raw = values.get(f.name)
        if f.kind is Kind.CHECKBOX and len(f.choices) == 1:
            # A lone checkbox is a yes/no question: ticked means yes, absent means no.
            raw = bool(raw)
        elif raw is None:
            continue
        target = data
        for key in f.model_path[:-1]:
            target = target.setdefault(key, {})
        target[f.model_path[-1]] = raw
    return data


def _field_for(loc: tuple[int | str, ...], shown: Sequence[Field]) -> Field:
    # The deepest field whose path starts the error's location ('deliverables', 2) wins; a
    # location that stops above the fields ('buyer' missing as a whole) goes to the first of them.
    owners = [f for f in shown if loc[: len(f.model_path)] == f.model_path]
    if owners:
        return max(owners, key=lambda f: len(f.model_path))
    below = [f for f in shown if f.model_path[: len(loc)] == loc]
    # A location no field owns can only come from a model-wide rule: show it on the first field
    # rather than drop it, since Slack accepts errors only for blocks in the view.
    return below[0] if below else shown[0]
