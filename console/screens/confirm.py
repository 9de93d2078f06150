"""Modal questions: yes/no, a typed confirmation with a reason, a choice."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList


def modal_css(name: str) -> str:
    """The CSS of a modal question (DEFAULT_CSS is scoped to the class that declares it)."""
    return f"""
    {name} {{ align: center middle; }}
    {name} > Vertical {{
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $error 80%; background: $surface; padding: 0 1;
    }}
    {name} Label {{ width: 100%; margin: 0 0 1 0; }}
    {name} Input {{ margin: 0 0 1 0; }}
    {name} Horizontal {{ height: auto; align-horizontal: right; }}
    {name} Button {{ margin-left: 1; min-width: 10; }}
    {name} OptionList {{ height: auto; max-height: 8; }}
    """


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no; Escape is no."""

    DEFAULT_CSS = modal_css("ConfirmScreen")
    BINDINGS = [Binding("escape", "no", "Cancel"), Binding("y", "yes", "Yes")]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            with Horizontal():
                yield Button("Cancel", id="no")
                yield Button(self.yes_label, id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


@dataclass(frozen=True, slots=True)
class Typed:
    """A confirmed dangerous action and the reason the operator gave."""

    reason: str


class TypedConfirmScreen(ModalScreen[Typed | None]):
    """A dangerous action: the operator types `word` exactly and gives a reason."""

    DEFAULT_CSS = modal_css("TypedConfirmScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, word: str, *, ask_reason: bool = True) -> None:
        super().__init__()
        self.question = question
        self.word = word
        self.ask_reason = ask_reason

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.question}\nType [b]{self.word}[/b] to confirm.", id="question")
            yield Input(placeholder=self.word, id="word", compact=True)
            if self.ask_reason:
                yield Input(placeholder="reason (recorded in the audit log)", id="reason",
                            compact=True)
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Confirm", id="confirm", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#word", Input).focus()

    def _ready(self) -> bool:
        word_ok = self.query_one("#word", Input).value.strip() == self.word
        reason_ok = not self.ask_reason or bool(self.query_one("#reason", Input).value.strip())
        return word_ok and reason_ok

    @on(Input.Changed)
    def _changed(self) -> None:
        self.query_one("#confirm", Button).disabled = not self._ready()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if self._ready():
            self._confirm()
        elif event.input.id == "word" and self.ask_reason:
            self.query_one("#reason", Input).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        if self._ready():
            reason = (self.query_one("#reason", Input).value.strip() if self.ask_reason
                      else "")
            self.dismiss(Typed(reason))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of a few values; Escape picks none."""

    DEFAULT_CSS = modal_css("ChoiceScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, choices: list[str]) -> None:
        super().__init__()
        self.question = question
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield OptionList(*self.choices, id="choices")

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
