"""Request and response bodies of the reward server; they are its OpenAPI schema.

Two dialects share one model and one micro-batcher:

- OpenRLHF's remote reward model (``POST /get_reward``). OpenRLHF's ``remote_rm_fn`` posts
  ``{"query": [...], "prompts": [...], "labels": [...]}``: each query is the decoded prompt +
  response (special tokens included), ``prompts`` the prompts those queries start with, and
  ``labels`` the ``--label_key`` column (older versions send ``query`` alone). Its client
  reads ``rewards`` (older versions: only that key) and, since 0.8, ``scores`` and every
  ``extra_logs`` value, each as one number per query. Unknown keys that forks add
  (``metadata``, ``templates``, ...) are ignored.
- rewardlab's own (``POST /v1/score``): typed items of prompt (text or chat messages),
  response and optional reference; results carry ``uncertainty`` when the model has one.

Types are strict: a number where text belongs is refused with the field named, never coerced.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictFloat,
    StrictStr,
    model_serializer,
)

__all__ = [
    "ChatMessage",
    "ErrorBody",
    "Health",
    "OpenRLHFRequest",
    "OpenRLHFResponse",
    "ScoreItem",
    "ScoreRequest",
    "ScoreResponse",
    "ScoredItem",
]


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward model request."""

    model_config = ConfigDict(extra="allow")

    query: list[StrictStr] = Field(
        description="Full texts, each a prompt followed by its response (OpenRLHF decodes "
                    "them with special tokens). An empty list is valid.")
    prompts: list[StrictStr] | None = Field(
        default=None,
        description="The prompt each query starts with, used to cut the response out. "
                    "Without it, an HH dialogue query is split at its last Assistant turn and "
                    "any other query is scored as a response to an empty prompt.")
    labels: list[Any] | None = Field(
        default=None,
        description="OpenRLHF's --label_key values: the reference answers for models that "
                    "check responses against one (verify:math); ignored by other models.")
    weights: list[dict[str, StrictFloat] | StrictStr | None] | None = Field(
        default=None,
        description="Per query, attribute weights for a multi: model ({\"harmless\": 1} or "
                    "\"harmless=1,helpful=0.5\"), or null for the model's own.")
    users: list[StrictStr | None] | None = Field(
        default=None,
        description="Per query, the user of a personal: model, or null for its population "
                    "mixture.")


class OpenRLHFResponse(BaseModel):
    """What OpenRLHF's client reads: one number per query in every list."""

    rewards: list[float] = Field(description="The reward of each query.")
    scores: list[float] = Field(
        description="Equal to rewards (OpenRLHF's --dynamic_filtering reads them).")
    extra_logs: dict[str, list[float]] = Field(
        description="Per-query values OpenRLHF logs; 'uncertainty' for models that have one.")


class ChatMessage(BaseModel):
    """One chat message, as in the OpenAI / Hugging Face chat format."""

    model_config = ConfigDict(extra="forbid")

    role: StrictStr
    content: StrictStr


class ScoreItem(BaseModel):
    """A response to score, with its prompt and (for verifiers) the reference answer."""

    model_config = ConfigDict(extra="forbid")

    prompt: StrictStr | list[ChatMessage] = Field(
        description="The prompt: text, or the conversation so far as chat messages.")
    response: StrictStr
    reference: StrictStr | list[Any] | dict[str, Any] | None = Field(
        default=None,
        description="Reference answer; required by models that check against one "
                    "(verify:math), ignored by others. Unit tests (verify:code) may be given "
                    "as a JSON object; verify:toolcall takes its reference calls as JSON "
                    "(BFCL ground_truth, or {'tools', 'ground_truth'}); verify:rules its "
                    "constraints and rubric: its criteria as a list.")
    weights: dict[str, StrictFloat] | None = Field(
        default=None,
        description="Attribute weights for a multi: model (e.g. {\"harmless\": 1, "
                    "\"helpful\": 0.5}); refused by other models.")
    user: StrictStr | None = Field(
        default=None,
        description="Whose reward, for a personal: model (an unknown user gets the "
                    "population mixture; user_fit says which); ignored by other models.")


class ScoreRequest(BaseModel):
    """rewardlab's scoring request: a list of items (an empty list is valid)."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem]


class ScoredItem(BaseModel):
    """One item's result. ``reward`` is null, with ``error`` saying why, when the model
    returned NaN or infinity for it: such a value is reported, never sent as a number."""

    reward: float | None
    uncertainty: float | None = Field(
        default=None, description="The model's uncertainty (an ensemble's member spread).")
    error: str | None = None
    rewards_by_attribute: dict[str, float] | None = Field(
        default=None, description="A multi: model's reward per attribute.")
    user_fit: str | None = Field(
        default=None, description="A personal: model's answer for this item's user: "
                                  "'adapted', or 'population' for a user it has no data from.")

    @model_serializer(mode="wrap")
    def _only_when_given(self, handler: Any) -> Any:
        """The attribute and user fields appear only for the models that give them, so
        every other model's items read as before."""
        data = handler(self)
        for key in ("rewards_by_attribute", "user_fit"):
            if isinstance(data, dict) and data.get(key) is None:
                data.pop(key, None)
        return data


class ScoreResponse(BaseModel):
    """Results in the order of the request's items."""

    model: str
    results: list[ScoredItem]


class Health(BaseModel):
    """The served model and the server's limits."""

    status: str
    model: str
    needs_references: bool
    has_uncertainty: bool
    max_batch: int
    max_wait_ms: float
    max_request_items: int
    queued_items: int


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: ``detail`` names the field and the rule it broke."""

    detail: str
    errors: list[dict[str, JsonValue]] | None = None
