"""The served model, and how request texts become its prompts, responses and references.

The server holds exactly one model. ``ServedModel`` scores every batch through the scoring
layer (``rewardlab.scoring.score_batch``, which picks the model's method by its capabilities
and checks what comes back), records once what the routes need (reference answers for
verifiers, an uncertainty for ensembles) and warms the model up with one tiny call, so an
untrained model or a missing dependency stops ``rewardlab serve`` before it listens, not at the
first RL step.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from rewardlab.adapters._text import END_MARKERS, response_from_query
from rewardlab.data import Message, Prompt
from rewardlab.data._dialogue import is_hh_text, parse_hh
from rewardlab.models.base import RewardModel, describe
from rewardlab.models.registry import resolve
from rewardlab.scoring import route, score_batch
from rewardlab.serve.batcher import BatchScores

__all__ = ["ServedModel", "split_query"]


@functools.lru_cache(maxsize=1024)
def _hh_prompt(prompt: str) -> tuple[Message, ...]:
    """An HH prompt (``\\n\\nHuman: ...\\n\\nAssistant:``) as the conversation rewardlab reads
    from HH data: the turns before the reply, without the empty Assistant turn that opens it.
    Cached: RL trainers send every prompt once per sampled response."""
    turns = parse_hh(prompt)
    if turns and turns[-1].role == "assistant" and not turns[-1].content:
        turns = turns[:-1]
    return tuple(turns)


def split_query(query: str, prompt: str | None, where: str,
                end_markers: Sequence[str] = END_MARKERS) -> tuple[Prompt, str]:
    """The prompt and response of one OpenRLHF query.

    With a prompt, the response is what follows it in the query (after leading padding),
    without trailing end-of-turn/padding tokens (``rewardlab.adapters`` does the same). An HH
    prompt becomes a conversation, as when rewardlab reads HH data, so a model trained on HH
    pairs sees the same structure. Without a prompt, an HH dialogue is split at its last
    Assistant turn; any other text is scored as a response to an empty prompt.

    Raises:
        ConfigError: the query does not contain its prompt.

    Example:
        >>> split_query("Q: 2+2? A: 4</s>", "Q: 2+2? A:", "query[0]")
        ('Q: 2+2? A:', ' 4')
        >>> split_query("\\n\\nHuman: hi\\n\\nAssistant: hello", None, "query[0]")
        ((Message(role='user', content='hi'),), 'hello')
    """
    if prompt is None:
        text = response_from_query(query, "", where, end_markers)
        if is_hh_text(text):
            turns = parse_hh(text)
            if len(turns) > 1 and turns[-1].role == "assistant":
                return tuple(turns[:-1]), turns[-1].content
        return "", text
    response = response_from_query(query, prompt, where, end_markers)
    if is_hh_text(prompt):
        return _hh_prompt(prompt), response.strip()
    return prompt, response


class ServedModel:
    """The one model a server scores with, called the way its capabilities need.

    Args:
        model: a spec (``embed:minilm``), a saved model directory, or a model object.
    """

    def __init__(self, model: str | Path | RewardModel) -> None:
        self.model: RewardModel = resolve(model) if isinstance(model, str | Path) else model
        self.name = describe(self.model)
        how = route(self.model)
        self.needs_references = how == "references"
        self.has_uncertainty = how == "uncertainty"
        #: rewards depend on the other responses in the call: score each request alone
        self.group_dependent = how == "groups"

    def __repr__(self) -> str:
        return f"ServedModel({self.name!r})"

    def __call__(self, prompts: Sequence[Prompt], responses: Sequence[str],
                 references: Sequence[str | None]) -> BatchScores:
        """Score one batch (in the batcher's worker thread).

        Raises:
            ConfigError: a reference answer the model needs is missing.
            ScoringError: the model broke the scoring contract or raised (answered 502).
        """
        batch = score_batch(self.model, prompts, responses,
                            references=references if self.needs_references else None)
        return BatchScores(batch.rewards, batch.uncertainty)

    def warm_up(self) -> None:
        """One tiny call: loads lazy weights and fails early if the model cannot score."""
        reference = "1" if self.needs_references else None
        self(["What is 0 + 1?"], ["0 + 1 = 1. The answer is 1."], [reference])
