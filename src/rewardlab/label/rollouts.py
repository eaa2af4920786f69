"""Monte-Carlo step labels (Math-Shepherd): a step is as good as the answers it leads to.

For every step ``i`` of a solution, a policy (``rewardlab.label._policy``) continues the
solution ``k`` times from the prefix ending with that step; each continuation's final answer
is checked against the reference with ``verify:math``'s checker. The step's soft label
``mc_value`` is the fraction of continuations that reach the reference, and its hard label is
``mc_value > threshold`` (``threshold=0``: Math-Shepherd's hard estimation, "some rollout
still reaches the answer"). The last step needs no rollouts when the solution states an
answer: that answer is checked directly, and the label is exact.

**Denoising** (SCAN, Ding et al. 2025). MC labels are noisy in a known direction: a policy
too weak for a problem fails from correct prefixes too, so its negatives are
under-estimates. SCAN measures the policy's *self-confidence* on a problem, the fraction of
its own solutions from the bare question that are right, and distrusts labels where it is low.
Here ``denoise`` turns that into a test per step, given ``k``:

- a negative label (``c`` of ``k`` right, ``c/k <= threshold``) is *low-confidence* when a
  correct prefix could plausibly give so few: P(Binomial(k, sc) <= c) >= ``alpha``, taking a
  correct prefix to be at least as easy to finish as the bare question (value ``sc``);
- a positive label is low-confidence when a prefix of value ``threshold`` could plausibly give
  so many: P(Binomial(k, threshold) >= c) >= ``alpha`` (never, for ``threshold=0``).

``denoise="mark"`` keeps every row and adds ``confident`` (one bool per step);
``denoise="drop"`` leaves out the rows with a low-confidence label and reports them.

Rollouts are seeded per prefix (from the seed, the problem and the prefix text), so a
prefix gets the same continuations in any file, order or batch; prefixes shared by several
solutions (a corrupted solution and its original, before the corruption) are rolled out once.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardlab._progress import progress
from rewardlab._validation import check_int, check_option, check_positive, check_range
from rewardlab.data import (
    DEFAULT_MAX_CHARS,
    REFERENCE_KEYS,
    Dataset,
    RowContext,
    SkippedRow,
    StepRecord,
    detect_task,
    is_problem_row,
    parse_problem,
    parse_row,
    read_rows,
    render_prompt,
)
from rewardlab.label._policy import (
    Continuation,
    Policy,
    RolloutFailure,
    Sampling,
    policy_config,
)
from rewardlab.steps._split import SPLIT_MODES, split_steps
from rewardlab.verify import FALLBACKS, MathChecker, reference_answer

__all__ = [
    "DEFAULT_INSTRUCTION",
    "DENOISE_MODES",
    "RolloutConfig",
    "RolloutResult",
    "Solution",
    "label_solutions",
    "low_confidence",
    "read_solutions",
    "rollout_seed",
]

DENOISE_MODES = ("none", "mark", "drop")
#: Appended to the question in the user turn, so rollouts end with an answer the verifier
#: can find; GSM8K's own solutions end the same way.
DEFAULT_INSTRUCTION = ("Solve it step by step, one step per line, and give the final answer "
                       "on its own last line as '#### <number>'.")


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutConfig:
    """How rollouts are sampled and turned into labels.

    Attributes:
        k: rollouts per step prefix.
        seed: base seed; every rollout's own seed derives from it, the problem and the prefix.
        temperature: sampling temperature (0 makes every rollout of a prefix the same).
        top_p: nucleus sampling.
        max_tokens: longest continuation; one that stops before an answer counts as wrong.
        threshold: hard label = ``mc_value > threshold``.
        denoise: ``none``, ``mark`` (add ``confident`` per step) or ``drop`` (leave out and
            report rows with a low-confidence label); see the module docstring.
        alpha: the plausibility level of the low-confidence test.
        split: how solution text is cut into steps (``split_steps``); step data keeps its
            steps.
        instruction: appended to the question in the user turn ("" sends the bare question).
        fallback: ``none``, or ``last-number`` to read a rollout's last number when it marks
            no answer.
        keep_rollouts: write every rollout's text in the output rows.
    """

    k: int = 8
    seed: int = 0
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
    threshold: float = 0.0
    denoise: str = "none"
    alpha: float = 0.1
    split: str = "newline"
    instruction: str = DEFAULT_INSTRUCTION
    fallback: str = "none"
    keep_rollouts: bool = False

    def __post_init__(self) -> None:
        check_int("RolloutConfig", "k", self.k)
        check_int("RolloutConfig", "seed", self.seed, minimum=0)
        check_range("RolloutConfig", "threshold", self.threshold, 0.0, 1.0)
        check_option("RolloutConfig", "denoise", self.denoise, DENOISE_MODES)
        check_positive("RolloutConfig", "alpha", self.alpha)
        check_range("RolloutConfig", "alpha", self.alpha, 0.0, 1.0)
        check_option("RolloutConfig", "split", self.split, SPLIT_MODES)
        check_option("RolloutConfig", "fallback", self.fallback, FALLBACKS)
        self.sampling()  # validates temperature, top_p, max_tokens

    def sampling(self) -> Sampling:
        return Sampling(temperature=self.temperature, top_p=self.top_p,
                        max_tokens=self.max_tokens)

    def provenance(self) -> dict[str, Any]:
        return {"k": self.k, "seed": self.seed, "temperature": self.temperature,
                "top_p": self.top_p, "max_tokens": self.max_tokens,
                "threshold": self.threshold, "denoise": self.denoise, "alpha": self.alpha,
                "instruction": self.instruction, "fallback": self.fallback}


# --- the statistics ------------------------------------------------------------------------


def _binom_cdf(c: int, k: int, p: float) -> float:
    """P(Binomial(k, p) <= c)."""
    return sum(math.comb(k, j) * p**j * (1 - p) ** (k - j) for j in range(c + 1))


def low_confidence(correct: int, k: int, *, threshold: float, self_confidence: float,
                   alpha: float) -> bool:
    """Whether a step's hard label is ambiguous given ``k`` (the module docstring's test).

    Example:
        >>> low_confidence(0, 4, threshold=0.0, self_confidence=0.0, alpha=0.1)
        True
        >>> low_confidence(0, 8, threshold=0.0, self_confidence=0.75, alpha=0.1)
        False
        >>> low_confidence(1, 4, threshold=0.0, self_confidence=0.0, alpha=0.1)
        False
    """
    if correct / k > threshold:
        return 1.0 - _binom_cdf(correct - 1, k, threshold) >= alpha
    return _binom_cdf(correct, k, self_confidence) >= alpha


def rollout_seed(seed: int, question: str, prefix: str, j: int) -> int:
    """Rollout ``j``'s seed for a prefix: the same in any file, order or batch."""
    digest = hashlib.blake2b(f"{seed}\0{question}\0{prefix}\0{j}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1)


# --- input ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Solution:
    """One solution to label: its problem, steps and reference answer, and what the input
    said about it (``source``: ``is_correct``, input ``labels``, ``corruption``, ...)."""

    id: str | int
    question: str
    steps: tuple[str, ...]
    reference: str | None
    line: int | None = None
    subset: str | None = None
    source: dict[str, Any] = field(default_factory=dict)


def _reference_of(row: dict[str, Any]) -> str | None:
    for key in REFERENCE_KEYS:
        value = row.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value
    corruption = row.get("corruption")
    if isinstance(corruption, dict) and isinstance(corruption.get("answer"), str | int | float):
        return str(corruption["answer"])  # `label inject-errors` keeps the original answer
    return None


def _solutions_of(row: dict[str, Any], ctx: RowContext, split: str) -> list[Solution]:
    """The solutions an input row holds; ``DataError`` for a malformed row."""
    task = detect_task(row)
    if task == "steps":
        parsed, _ = parse_row("steps", row, ctx)
        records = parsed if isinstance(parsed, list) else [parsed]
        reference = _reference_of(row)
        extra = {k: row[k] for k in ("corruption",) if k in row}
        return [Solution(id=r.id, question=render_prompt(r.prompt), steps=r.steps,
                         reference=reference, line=ctx.line, subset=r.subset,
                         source={**extra, **({"labels": list(r.labels)} if r.labels else {})})
                for r in records]
    if task == "best-of-n":
        record, _ = parse_row("best-of-n", row, ctx)
        out = []
        for i, text in enumerate(record.responses):
            name = record.names[i] if record.names else str(i)
            source: dict[str, Any] = {"name": name}
            if record.is_correct is not None:
                source["is_correct"] = record.is_correct[i]
            out.append(Solution(id=f"{record.id}:{name}", question=render_prompt(record.prompt),
                                steps=tuple(split_steps(text, split)),
                                reference=record.reference, line=ctx.line,
                                subset=record.subset, source=source))
        return out
    if not is_problem_row(row):
        fields = ", ".join(sorted(row)) or "none"
        raise ctx.fail(None, f"cannot tell the layout from its fields ({fields}); expected "
                       "GSM8K problems (question/answer), best-of-n solutions "
                       "(prompt/responses, or GSM8K example solutions) or steps "
                       "(prompt/completions with a 'reference')")
    problem = parse_problem(row, ctx, allow_empty=True)
    return [Solution(id=problem.id, question=problem.question,
                     steps=tuple(split_steps(problem.solution, split)),
                     reference=problem.solution, line=ctx.line)]


def read_solutions(source: str | Path, *, split: str = "newline", skip_invalid: bool = False,
                   limit: int | None = None, max_chars: int = DEFAULT_MAX_CHARS
                   ) -> tuple[list[Solution], list[SkippedRow]]:
    """The solutions to label, from GSM8K problems (``question`` + worked ``answer``: the
    worked solution is labelled), best-of-n rows (each candidate; the GSM8K example
    solutions keep ``is_correct``) or step rows (TRL's PRM format with a ``reference``,
    ``ground_truth`` or ``answer``, or ``label inject-errors`` output).

    ``limit`` counts input rows. A row with no reference or no steps is returned like any
    other: ``label_solutions`` reports it with its reason.

    Raises:
        DataError: the file is missing or empty, or (without ``skip_invalid``) a row is
            malformed.
    """
    check_option("read_solutions", "split", split, SPLIT_MODES)
    read = read_rows(source, lambda row, ctx: _solutions_of(row, ctx, split),
                     skip_invalid=skip_invalid, row_limit=limit, max_chars=max_chars)
    return read.records, read.skipped


# --- labelling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RolloutResult:
    """What ``label_solutions`` made.

    Attributes:
        rows: JSON rows in TRL's PRM format (``id``, ``prompt``, ``completions``, ``labels``,
            ``subset``) plus ``mc_values``, ``mc_correct``, ``mc_rollouts`` (rollouts per
            step; 0 where the solution's own answer was checked), ``reference``,
            ``rollouts`` (policy and sampling provenance), ``source`` (what the input said),
            ``rollout_answers``, and with denoising ``self_confidence`` / ``confident``.
        skipped: solutions that got no row, each with its reason (no reference, no steps,
            the policy failed, low-confidence labels under ``denoise="drop"``).
        stats: counts: ``solutions``, ``labelled``, ``steps``, ``positive``, ``rollouts``
            (sampled), ``shared_prefixes`` (rolled out once for several solutions),
            ``low_confidence`` (steps), ``dropped`` (rows), ``failed`` (rows), and
            ``seconds``.
    """

    rows: tuple[dict[str, Any], ...]
    skipped: tuple[SkippedRow, ...]
    stats: dict[str, float]

    def dataset(self, source: str = "mc-rollouts") -> Dataset[StepRecord]:
        """The labelled rows as a ``steps`` dataset, ready for ``fit`` or evaluation."""
        records = tuple(StepRecord(prompt=r["prompt"], steps=tuple(r["completions"]),
                                   labels=tuple(r["labels"]), id=r["id"], subset=r["subset"])
                        for r in self.rows)
        return Dataset(task="steps", records=records, source=source, form="mc-rollouts")


class _Labeller:
    """Rollouts with a memory: a (problem, prefix) pair is rolled out once per run."""

    def __init__(self, policy: Policy, config: RolloutConfig, file: str) -> None:
        self.policy, self.config, self.file = policy, config, file
        self.checker = MathChecker(fallback=config.fallback)
        self.memo: dict[tuple[str, str], list[str]] = {}
        self.sampled = self.shared = 0

    def _messages(self, question: str) -> tuple[tuple[str, str], ...]:
        text = f"{question}\n\n{self.config.instruction}" if self.config.instruction else question
        return (("user", text),)

    def rollouts(self, question: str, prefixes: Sequence[str]
                 ) -> dict[str, list[str] | RolloutFailure]:
        """Continuations of every prefix (memoised), or the failure of a prefix."""
        out: dict[str, list[str] | RolloutFailure] = {}
        todo: list[Continuation] = []
        for prefix in dict.fromkeys(prefixes):
            if (question, prefix) in self.memo:
                out[prefix] = self.memo[question, prefix]
                self.shared += 1
                continue
            seeds = tuple(rollout_seed(self.config.seed, question, prefix, j)
                          for j in range(self.config.k))
            todo.append(Continuation(self._messages(question), prefix, seeds))
        results = self.policy.continue_many(todo, self.config.sampling()) if todo else []
        for item, result in zip(todo, results, strict=True):
            out[item.prefix] = result
            if not isinstance(result, RolloutFailure):
                self.memo[question, item.prefix] = result
                self.sampled += len(result)
        return out

    def label(self, s: Solution, ref: str) -> dict[str, Any] | SkippedRow:
        cfg, steps = self.config, s.steps
        final = self.checker.check(["\n".join(steps)], [ref])[0]
        # the last step is checked directly when the solution states an answer
        exact_last = final.reason not in ("no-answer",)
        n_rolled = len(steps) - 1 if exact_last else len(steps)
        prefixes = ["\n".join(steps[:i + 1]) + "\n" for i in range(n_rolled)]
        if cfg.denoise != "none":
            prefixes = ["", *prefixes]  # from the bare question: the self-confidence
        results = self.rollouts(s.question, prefixes)
        for i, prefix in enumerate(prefixes):
            failure = results[prefix]
            if isinstance(failure, RolloutFailure):
                where = "the bare question" if not prefix else (
                    f"step {i + (0 if cfg.denoise != 'none' else 1)}")
                return self._skip(s, f"the policy failed on {where}: {failure}")
        verdicts = {p: self.checker.check(results[p], [ref] * cfg.k)  # type: ignore[arg-type]
                    for p in dict.fromkeys(prefixes)}
        correct = [sum(v.correct for v in verdicts[p]) for p in prefixes if p]
        answers = [[v.answer for v in verdicts[p]] for p in prefixes if p]
        rolled = [cfg.k] * len(correct)
        values = [c / cfg.k for c in correct]
        if exact_last:
            correct.append(int(final.correct))
            values.append(float(final.correct))
            rolled.append(0)
            answers.append([final.answer])
        labels = [v > cfg.threshold for v in values]
        row: dict[str, Any] = {
            "id": s.id, "prompt": s.question, "completions": list(steps), "labels": labels,
            "subset": s.subset, "mc_values": values, "mc_correct": correct,
            "mc_rollouts": rolled, "reference": final.reference or ref,
            "rollouts": {"policy": self.policy.spec, "model": self.policy.model,
                         **cfg.provenance(), "policy_options": policy_config(self.policy)},
        }
        if s.source:
            row["source"] = s.source
        row["rollout_answers"] = answers
        if cfg.keep_rollouts:
            row["rollout_texts"] = [results[p] for p in prefixes if p]
        if cfg.denoise != "none":
            sc = sum(v.correct for v in verdicts[""]) / cfg.k
            confident = [n == 0 or not low_confidence(c, n, threshold=cfg.threshold,
                                                      self_confidence=sc, alpha=cfg.alpha)
                         for c, n in zip(correct, rolled, strict=True)]
            row["self_confidence"], row["confident"] = sc, confident
        return row

    def _skip(self, s: Solution, reason: str, field: str | None = None) -> SkippedRow:
        return SkippedRow(self.file, s.line, field, reason,
                          {"id": s.id, "prompt": s.question, "completions": list(s.steps)})


def label_solutions(solutions: Sequence[Solution], policy: Policy,
                    config: RolloutConfig | None = None, *, file: str = "<solutions>",
                    on_row: Callable[[dict[str, Any] | SkippedRow], None] | None = None
                    ) -> RolloutResult:
    """Label every step of every solution by Monte-Carlo rollouts (the module docstring).

    Args:
        solutions: from ``read_solutions`` (or built by hand).
        policy: from ``load_policy`` (or any object with ``continue_many``, ``spec`` and
            ``model``).
        config: ``RolloutConfig``.
        file: the input's name, for the skipped-row report.
        on_row: called with each row or skipped entry as soon as it is done.

    Returns:
        A ``RolloutResult``: every solution is either a row or a skipped entry with a reason.

    Raises:
        BackendError: the policy's server stopped answering altogether.
    """
    cfg = config or RolloutConfig()
    labeller = _Labeller(policy, cfg, file)
    rows: list[dict[str, Any]] = []
    skipped: list[SkippedRow] = []
    start = time.perf_counter()
    counts = dict.fromkeys(("low_confidence", "dropped", "failed"), 0)
    with progress("rollouts", len(solutions)) as advance:
        for s in solutions:
            ref = reference_answer(s.reference) if s.reference is not None else ""
            done: dict[str, Any] | SkippedRow
            if s.reference is None:
                done = labeller._skip(s, "has no reference answer to check rollouts against "
                                      "(give 'reference', 'ground_truth' or 'answer')",
                                      "reference")
            elif not ref:
                done = labeller._skip(s, "the reference states no answer", "reference")
            elif not s.steps:
                done = labeller._skip(s, "the solution has no steps (it is empty)",
                                      "completions")
            else:
                done = labeller.label(s, ref)
                if isinstance(done, SkippedRow):
                    counts["failed"] += 1
            if isinstance(done, dict) and "confident" in done:
                n_low = done["confident"].count(False)
                counts["low_confidence"] += n_low
                if n_low and cfg.denoise == "drop":
                    steps = [i + 1 for i, ok in enumerate(done["confident"]) if not ok]
                    counts["dropped"] += 1
                    done = labeller._skip(s, f"low-confidence labels (denoise=drop) at steps "
                                          f"{steps}; self-confidence "
                                          f"{done['self_confidence']:.2f} with k={cfg.k}",
                                          "labels")
            (rows if isinstance(done, dict) else skipped).append(done)  # type: ignore[arg-type]
            if on_row is not None:
                on_row(done)
            advance(1)
    stats: dict[str, float] = {
        "solutions": len(solutions), "labelled": len(rows),
        "steps": sum(len(r["labels"]) for r in rows),
        "positive": sum(sum(r["labels"]) for r in rows),
        "rollouts": labeller.sampled, "shared_prefixes": labeller.shared, **counts,
        "seconds": time.perf_counter() - start,
    }
    return RolloutResult(rows=tuple(rows), skipped=tuple(skipped), stats=stats)
