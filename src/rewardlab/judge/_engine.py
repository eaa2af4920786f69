"""The judging itself, shared by every backend: build each question, ask it (with an optional
rationale first), read the verdict, and ask pairs in both orders when position bias must be
controlled.

Questions are asked in an order that lets an in-process backend reuse its cache: the two orders
of one pair follow each other, and every question shares the instructions at its start.
Nothing here depends on where the model runs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rewardlab.data import Prompt
from rewardlab.errors import ConfigError
from rewardlab.judge._prompts import (
    PromptTemplate,
    fit_to_context,
    render_question,
    verdict_prompt,
)
from rewardlab.judge._verdict import OPTIONS, parse_verdict, reduce_options, vote_verdicts
from rewardlab.llm._backend import Backend, ItemFailure, Messages

__all__ = ["JudgeEngine", "PairJudgment", "Sample", "Verdict", "order_consistency"]

#: Tokens kept free after the question: the verdict (and its follow-up question after a
#: rationale).
_VERDICT_RESERVE = 8
_FOLLOW_UP_RESERVE = 40
#: Tokens generated for the verdict when the backend has no probabilities (text fallback).
_TEXT_VERDICT_TOKENS = 8


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampled rationale and the verdict read after it.

    Attributes:
        rationale: the sampled text (principles first with ``principles=true``).
        value: its verdict (as ``Verdict.value``); NaN when it gave none.
        probs, text: the verdict options' probabilities, or the parsed verdict text.
        reason: why ``value`` is NaN.
        meta: P(the critique is sound) from the meta-judge, when there is one.
        kept: counted in the vote (the meta-judge found it sound, or there is no meta-judge).
    """

    rationale: str
    value: float
    probs: dict[str, float] | None = None
    text: str | None = None
    reason: str | None = None
    meta: float | None = None
    kept: bool = True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": None if math.isnan(self.value) else self.value,
                               "rationale": self.rationale, "kept": self.kept}
        for name in ("probs", "text", "reason"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.meta is not None:
            out["meta"] = None if math.isnan(self.meta) else self.meta
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """One question asked once.

    Attributes:
        value: P(A) for pairwise, the expected grade, or P(yes); NaN when there is no verdict.
        probs: the verdict options' probabilities, when the backend offered them.
        text: the generated verdict text, when it was parsed instead.
        rationale: what the judge wrote before its verdict (``reason=True``).
        reason: why ``value`` is NaN; or ``None``.
        truncated: the prompt was cut to fit the judge's context.
        samples: with ``samples=k``, every sampled rationale and its verdict.
        no_verdict: how many of ``samples`` gave no verdict (left out of the vote).
    """

    value: float
    probs: dict[str, float] | None = None
    text: str | None = None
    rationale: str | None = None
    reason: str | None = None
    truncated: bool = False
    samples: tuple[Sample, ...] | None = None
    no_verdict: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": None if math.isnan(self.value) else self.value}
        for name in ("probs", "text", "rationale", "reason"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.truncated:
            out["truncated"] = True
        if self.samples is not None:
            out["samples"] = [s.to_json() for s in self.samples]
            out["no_verdict"] = self.no_verdict
        return out


@dataclass(frozen=True, slots=True)
class PairJudgment:
    """A pairwise judgment: P(first response better), from one order or the mean of both.

    ``forward`` asked with the first response as A; ``backward`` (when swapped) with it as B,
    already turned round (its ``value`` is P(B better) in that question, i.e. for the first
    response ``1 - value``).
    """

    p: float
    forward: Verdict
    backward: Verdict | None = None

    @property
    def consistent(self) -> bool | None:
        """Both orders pick the same response (None: not swapped, or a verdict missing)."""
        if self.backward is None:
            return None
        a, b = self.forward.value, self.backward.value
        if math.isnan(a) or math.isnan(b):
            return None
        return (a > 0.5 and b < 0.5) or (a < 0.5 and b > 0.5)

    @property
    def reason(self) -> str | None:
        if not math.isnan(self.p):
            return None
        reasons = [v.reason for v in (self.forward, self.backward) if v is not None and v.reason]
        return "; ".join(dict.fromkeys(reasons)) or "no verdict"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"p": None if math.isnan(self.p) else self.p,
                               "forward": self.forward.to_json()}
        if self.backward is not None:
            out["backward"] = self.backward.to_json()
            out["consistent"] = self.consistent
        return out


def order_consistency(judgments: Sequence[PairJudgment]) -> float:
    """Share of swapped pairs whose two orders pick the same response (NaN if none)."""
    seen = [j.consistent for j in judgments if j.consistent is not None]
    return float(sum(seen) / len(seen)) if seen else math.nan


@dataclass
class _Question:
    mode: str
    messages: Messages
    truncated: bool = False
    error: str | None = None
    fields: dict[str, Any] | None = None  # what the template saw (a meta-judge reuses it)


@dataclass
class JudgeEngine:
    """Asks a backend the questions of one judge configuration.

    Args:
        backend: where the model runs.
        templates: the prompt template of each mode.
        rubric: the rubric text given to every template.
        reason: ask for a rationale before the verdict.
        max_reason_tokens: the longest rationale.
        samples: ask for this many sampled rationales, each followed by its verdict, and
            combine the verdicts (``vote``); ``None`` asks once, greedily.
        temperature, top_p, seed: how the rationales are sampled; the same seed gives the
            same rationales.
        vote: ``mean`` (of the verdict values) or ``majority`` (``vote_verdicts``).
        principles: the judge writes principles for this conversation before its rationale.
        meta: a meta-judge (an engine with a ``meta`` template) that keeps only the sampled
            critiques it finds sound (P(sound) >= ``meta_threshold``; none sound: the one it
            rates highest).
    """

    backend: Backend
    templates: dict[str, PromptTemplate]
    rubric: str
    reason: bool = False
    max_reason_tokens: int = 256
    samples: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    vote: str = "mean"
    principles: bool = False
    meta: JudgeEngine | None = None
    meta_threshold: float = 0.5

    @property
    def _writes_rationale(self) -> bool:
        return self.reason or self.samples is not None or self.principles

    # --- building questions -------------------------------------------------------------
    def _budget(self) -> int | None:
        n_ctx = self.backend.n_ctx
        if n_ctx is None:
            return None
        reserve = _VERDICT_RESERVE + self.backend.count_chat_overhead()
        if self._writes_rationale:
            reserve += self.max_reason_tokens + _FOLLOW_UP_RESERVE
        return n_ctx - reserve

    def _question(self, mode: str, prompt: Prompt, responses: dict[str, str],
                  reference: str | None = None) -> _Question:
        template = self.templates[mode]
        fields: dict[str, Any] = {"rubric": self.rubric, "question": render_question(prompt),
                                  "reason": self._writes_rationale,
                                  "principles": self.principles, "reference": reference or "",
                                  "response": "", "response_a": "", "response_b": "",
                                  **responses}

        def render(values: dict[str, Any]) -> str:
            return template.render(**values)

        fitted = fit_to_context(render, fields, tuple(responses), budget=self._budget(),
                                count=self.backend.count_tokens)
        return _Question(mode, [{"role": "user", "content": render(fitted.fields)}],
                         truncated=fitted.truncated, error=fitted.error, fields=fitted.fields)

    # --- asking -------------------------------------------------------------------------
    def _read_verdict(self, mode: str, messages: Messages
                      ) -> tuple[float, dict[str, float] | None, str | None, str | None]:
        """The verdict to ``messages``: ``(value, probs, text, why value is NaN)``, from the
        option probabilities, else from parsed text. ``ItemFailure`` passes through."""
        probs = self.backend.option_probs(messages, OPTIONS[mode])
        if probs is not None:
            value = reduce_options(mode, probs)
            why = None
            if math.isnan(value):
                why = (f"no verdict token ({', '.join(OPTIONS[mode][:3])}"
                       f"{', ...' if len(OPTIONS[mode]) > 3 else ''}) had any probability")
            return value, probs, None, why
        text = self.backend.generate(messages, _TEXT_VERDICT_TOKENS)
        value = parse_verdict(mode, text)
        why = None if not math.isnan(value) else f"no verdict in the reply {text[:80]!r}"
        return value, None, text, why

    def _ask(self, question: _Question) -> Verdict:
        if question.error is not None:
            return Verdict(math.nan, reason=question.error, truncated=True)
        if self.samples is not None:
            return self._ask_sampled(question)
        mode, messages, rationale = question.mode, question.messages, None
        try:
            if self.reason or self.principles:
                rationale = self.backend.generate(messages, self.max_reason_tokens)
                messages = [*messages, {"role": "assistant", "content": rationale},
                            {"role": "user", "content": verdict_prompt(mode)}]
            value, probs, text, why = self._read_verdict(mode, messages)
            return Verdict(value, probs=probs, text=text, rationale=rationale, reason=why,
                           truncated=question.truncated)
        except ItemFailure as exc:
            return Verdict(math.nan, rationale=rationale, reason=str(exc),
                           truncated=question.truncated)

    def _ask_sampled(self, question: _Question) -> Verdict:
        """``samples`` rationales sampled from the question's shared prefix, a verdict read
        after each, the sound ones (meta-judge) combined by ``vote``. A sample without a
        verdict is counted in ``no_verdict`` and left out of the vote."""
        k, mode = int(self.samples or 1), question.mode
        try:
            rationales = self.backend.sample_chat(
                question.messages, k, max_tokens=self.max_reason_tokens,
                temperature=self.temperature, top_p=self.top_p, seed=self.seed)
        except ItemFailure as exc:
            return Verdict(math.nan, reason=str(exc), truncated=question.truncated)
        samples = []
        for rationale in rationales:
            messages = [*question.messages, {"role": "assistant", "content": rationale},
                        {"role": "user", "content": verdict_prompt(mode)}]
            try:
                value, probs, text, why = self._read_verdict(mode, messages)
            except ItemFailure as exc:
                value, probs, text, why = math.nan, None, None, str(exc)
            samples.append(Sample(rationale, value, probs=probs, text=text, reason=why))
        if self.meta is not None:
            samples = self.meta.vet(question, samples, self.meta_threshold)
        no_verdict = sum(math.isnan(s.value) for s in samples)
        voting = [(s.value, s.probs) for s in samples if s.kept and not math.isnan(s.value)]
        value = vote_verdicts(mode, voting, self.vote)
        why = None
        if math.isnan(value):
            reasons = "; ".join(dict.fromkeys(s.reason for s in samples if s.reason))
            why = f"none of the {k} samples gave a verdict ({reasons or 'no reason given'})"
        return Verdict(value, reason=why, truncated=question.truncated,
                       samples=tuple(samples), no_verdict=no_verdict)

    def vet(self, question: _Question, samples: list[Sample], threshold: float
            ) -> list[Sample]:
        """As a meta-judge: P(sound) of each sampled critique of ``question``; those at or
        above ``threshold`` stay in the vote (none: the one rated highest)."""
        rated = []
        for sample in samples:
            if math.isnan(sample.value):
                rated.append(replace(sample, kept=False))
                continue
            content = self.templates["meta"].render(**(question.fields or {}),
                                                    critique=sample.rationale)
            try:
                meta = self._read_verdict("meta", [{"role": "user", "content": content}])[0]
            except ItemFailure:
                meta = math.nan
            rated.append(replace(sample, meta=meta))
        scores = [s.meta if s.meta is not None and not math.isnan(s.meta) else -1.0
                  for s in rated]
        sound = [m >= threshold for m in scores]
        if not any(sound) and max(scores, default=-1.0) >= 0:
            best = scores.index(max(scores))
            sound = [i == best for i in range(len(rated))]
        return [replace(s, kept=ok and not math.isnan(s.value))
                for s, ok in zip(rated, sound, strict=True)]

    def _run(self, questions: list[_Question]) -> list[Verdict]:
        verdicts = self.backend.map(self._ask, questions)
        missing = sum(v.no_verdict for v in verdicts)
        if missing:
            total = sum(len(v.samples or ()) for v in verdicts)
            warnings.warn(
                f"{missing} of {total} sampled rationales gave no verdict; they are left out "
                "of their rows' votes and counted in each row's no_verdict.", UserWarning,
                stacklevel=4)
        truncated = sum(q.truncated for q in questions)
        if truncated:
            warnings.warn(
                f"{truncated} of {len(questions)} judge prompts were longer than the "
                f"judge's context ({self.backend.n_ctx} tokens): the conversation was cut from "
                "its start (and the responses from their ends where needed); the instructions "
                "were kept. Their rows say truncated=true.", UserWarning, stacklevel=4)
        return verdicts

    # --- the three kinds of judgment ----------------------------------------------------
    def pairs(self, prompts: Sequence[Prompt], first: Sequence[str], second: Sequence[str],
              *, swap: bool) -> list[PairJudgment]:
        """P(``first[i]`` is better than ``second[i]``); with ``swap``, asked in both orders
        and averaged (one missing order: the other alone)."""
        _check_lengths(prompts, first, second)
        questions = []
        for prompt, a, b in zip(prompts, first, second, strict=True):
            questions.append(self._question("pairwise", prompt,
                                            {"response_a": a, "response_b": b}))
            if swap:  # right after its forward order: the two share their prefix
                questions.append(self._question("pairwise", prompt,
                                                {"response_a": b, "response_b": a}))
        verdicts = self._run(questions)
        out = []
        step = 2 if swap else 1
        for i in range(len(prompts)):
            forward = verdicts[step * i]
            if not swap:
                out.append(PairJudgment(forward.value, forward))
                continue
            backward = verdicts[step * i + 1]
            values = [v for v in (forward.value, 1.0 - backward.value) if not math.isnan(v)]
            p = sum(values) / len(values) if values else math.nan
            out.append(PairJudgment(p, forward, backward))
        return out

    def singles(self, mode: str, prompts: Sequence[Prompt], responses: Sequence[str],
                references: Sequence[str] | None = None) -> list[Verdict]:
        """One verdict per response: a grade, P(yes), or P(correct) against a reference."""
        _check_lengths(prompts, responses)
        refs: Sequence[str | None] = references if references is not None else [None] * len(
            responses)
        questions = [self._question(mode, p, {"response": r}, reference)
                     for p, r, reference in zip(prompts, responses, refs, strict=True)]
        return self._run(questions)


def _check_lengths(prompts: Sequence[Any], *columns: Sequence[Any]) -> None:
    for column in columns:
        if len(column) != len(prompts):
            raise ConfigError(f"got {len(prompts)} prompts but {len(column)} responses; they "
                              "must pair up one to one")
