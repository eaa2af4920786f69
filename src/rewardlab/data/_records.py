"""Typed records for the kinds of reward data, and the dataset that holds them.

Records are frozen, slotted dataclasses rather than pydantic models: a scoring job holds
hundreds of thousands of them, and validation happens once, in the reader, where the file and
line of a bad row are still known.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "TASKS",
    "BestOfNRecord",
    "Conversation",
    "Dataset",
    "Message",
    "PairRecord",
    "PointRecord",
    "Prompt",
    "SkippedRow",
    "StepRecord",
    "Task",
    "last_user_turn",
    "render_prompt",
]

Task = Literal["pairwise", "pointwise", "best-of-n", "steps"]
TASKS: tuple[Task, ...] = ("pairwise", "pointwise", "best-of-n", "steps")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message, as in the OpenAI / Hugging Face chat format."""

    role: str
    content: str


Conversation = tuple[Message, ...]
Prompt = str | Conversation


def last_user_turn(prompt: Prompt) -> str:
    """The text of the last user message: what the response is most directly answering.

    A plain-string prompt is its own last turn.
    """
    if isinstance(prompt, str):
        return prompt
    for message in reversed(prompt):
        if message.role in ("user", "human"):
            return message.content
    return prompt[-1].content if prompt else ""


def render_prompt(prompt: Prompt) -> str:
    """Plain text for a prompt, for models that read text rather than chat messages."""
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(f"{m.role}: {m.content}" for m in prompt)


@dataclass(frozen=True, slots=True, kw_only=True)
class PairRecord:
    """A preference pair: ``chosen`` was preferred over ``rejected`` as a reply to ``prompt``.

    ``margin`` is TRL's optional preference strength; ``line`` is where the row was read
    (1-based line, or row for Parquet), kept so later errors can point back at it.
    """

    prompt: Prompt
    chosen: str
    rejected: str
    id: str | int
    subset: str | None = None
    margin: float | None = None
    line: int | None = None
    #: a structured reference both sides are judged by (a ``rubric``, ``constraints``)
    reference: str | None = None
    #: who judged the pair (a ``user`` column): personalised models fit one user per id
    user: str | None = None
    #: per-attribute weights for a ``multi:`` model (a ``weights`` column), name -> weight
    weights: tuple[tuple[str, float], ...] | None = None
    #: the annotators' votes (a ``votes`` or ``meta.votes`` column, PandaLM's coding: 1 or 2
    #: = which output, 0 = tie); soft labels are their share
    votes: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PointRecord:
    """A single response, with a scalar label (a rating or a 0/1 judgement) when the source
    has one; ``score`` is None for unlabelled model output, which can be scored but not used
    where a metric needs the label."""

    prompt: Prompt
    response: str
    score: float | None = None
    id: str | int
    subset: str | None = None
    line: int | None = None
    #: a reference answer, for verifiers (``verify:math`` checks the response against it)
    reference: str | None = None
    #: whose reward to give (a ``user`` column), for personalised models
    user: str | None = None
    #: per-attribute weights for a ``multi:`` model (a ``weights`` column), name -> weight
    weights: tuple[tuple[str, float], ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BestOfNRecord:
    """Several candidate responses to one prompt, optionally labelled correct or scored.

    ``names`` keeps the candidates' names when the source has them (GSM8K's example solutions
    are keyed by the model that wrote them); ``reference`` is a reference answer for verifiers.
    """

    prompt: Prompt
    responses: tuple[str, ...]
    id: str | int
    is_correct: tuple[bool, ...] | None = None
    scores: tuple[float, ...] | None = None
    reference: str | None = None
    names: tuple[str, ...] | None = None
    subset: str | None = None
    line: int | None = None
    #: whose reward to give every candidate (a ``user`` column), for personalised models
    user: str | None = None
    #: per-attribute weights for a ``multi:`` model (a ``weights`` column), name -> weight
    weights: tuple[tuple[str, float], ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    """A solution split into steps, each optionally labelled correct (TRL's PRM format:
    ``prompt``, ``completions`` = the steps, ``labels`` = one bool per step).

    A label says whether the solution is still right *after* that step, so the first
    ``False`` is where it went wrong; process reward models are trained on these labels and
    judged on ``first_error``. ``subset`` names the kind of error where the source has one
    (PRMBench's error types, the corruption error injection made); ``question_type`` the
    kind of question where the source has one (MR-GSM8K: ``original``, ``reversed``,
    ``POT``), so first-error accuracy is reported both ways.
    """

    prompt: Prompt
    steps: tuple[str, ...]
    id: str | int
    labels: tuple[bool, ...] | None = None
    subset: str | None = None
    line: int | None = None
    question_type: str | None = None

    @property
    def first_error(self) -> int | None:
        """0-based index of the first step labelled ``False``; None for a correct solution
        (or an unlabelled one)."""
        if self.labels is None:
            return None
        return next((i for i, ok in enumerate(self.labels) if not ok), None)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row left out with ``--skip-invalid``, with why; written next to every output."""

    file: str
    line: int | None
    field: str | None
    reason: str
    raw: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "reason": self.reason,
            "row": self.raw,
        }

    def as_first_problem(self, location: str = "line") -> str:
        """``the first problem, at line 3, field 'x': why``: how an error names the first of
        the skipped rows when none was left (``location``: ``line``, or ``row`` in Parquet);
        a part that is not known (no line, no field) is left out rather than said as None."""
        where = "" if self.line is None else f", at {location} {self.line}"
        where += "" if self.field is None else f", field '{self.field}'"
        return f"the first problem{where}: {self.reason}"


R = TypeVar("R", PairRecord, PointRecord, BestOfNRecord, StepRecord)


@dataclass(frozen=True)
class Dataset(Generic[R]):
    """Records of one task read from one source, plus every row that was skipped and why.

    ``form`` names the layout the rows were in (``explicit``, ``hh``, ``conversational``,
    ``gsm8k-examples``, ...), so a user can see how their file was understood.
    """

    task: Task
    records: tuple[R, ...]
    source: str
    form: str
    skipped: tuple[SkippedRow, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[R]:
        return iter(self.records)

    def __getitem__(self, index: int) -> R:
        return self.records[index]

    def take(self, indices: Sequence[int]) -> Dataset[R]:
        """A dataset of the records at ``indices``, in that order (skipped rows stay with it)."""
        return replace(self, records=tuple(self.records[i] for i in indices))
