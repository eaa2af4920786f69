"""Rubrics written by a judge: per-prompt criteria (CARMO / RM-R1 style) and a rubric induced
from preference pairs (Auto-Rubric's propose–evaluate loop).

``generate_rubrics`` asks the judge's model for 3–7 criteria a good reply to each prompt must
meet, one per line; each prompt's answer is cached on disk by the hash of (judge, settings,
prompt), so a rerun asks only for new prompts, and every row records where its rubric came
from (judge, prompt hash, the raw reply, how many criteria were parsed and how many generic
ones filled a short answer).

``induce_rubric`` splits the pairs into a proposal part and a validation part; the judge reads
proposal pairs (the preferred reply named) and proposes general criteria; every candidate is
scored as an ``llm`` criterion on both sides of every validation pair; candidates are then
added greedily, best first, and kept only when they raise the rubric's validation accuracy
(weighted mean of kept criteria, ties counted half). The rubric file lists each kept
criterion's own validation accuracy, the rubric's, and every candidate considered.

The judge is a ``judge:`` spec or model; nothing here depends on where it runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._store import default_cache_dir
from rewardlab.data import Dataset, PairRecord, Prompt, load_dataset, render_prompt
from rewardlab.errors import CapabilityError, ConfigError, DataError
from rewardlab.models.base import describe
from rewardlab.models.registry import resolve
from rewardlab.models.rubric import RubricModel
from rewardlab.verify.rubric import parse_rubric

__all__ = [
    "GENERIC_CRITERIA",
    "InducedRubric",
    "RubricGeneration",
    "generate_rubrics",
    "induce_rubric",
    "parse_criteria",
    "prompt_hash",
]

#: Filled in (and marked in the provenance) when a judge writes fewer criteria than asked:
#: the helpfulness rubric's own points, so a row never gets an empty or one-line rubric.
GENERIC_CRITERIA = (
    "The response answers what the user asked, directly.",
    "The response is accurate: it states nothing false.",
    "The response is clear and well organised.",
    "The response gives the detail the request needs, without padding.",
)
_GENERATE_TOKENS = 320
_PROPOSE_TOKENS = 200
_LINE = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.):]|criterion\s*\d*[.):])\s*(.+?)\s*$", re.I)

GENERATE_PROMPT = """Write a grading rubric for replies to the user's request below: between \
{low} and {high} short criteria that a good reply must meet. Make them specific to this \
request (what a correct, complete and helpful reply contains), each checkable on its own.
Write one criterion per line, each line starting with "- ". Write nothing else.

[Request]
{request}"""

PROPOSE_PROMPT = """People compared two replies to the request below and preferred Reply A.
Write up to {k} general criteria (not about this request only) that a grader could check on \
any reply and that explain why replies like A are better than replies like B.
Write one criterion per line, each line starting with "- ". Write nothing else.

[Request]
{request}

[Reply A]
{chosen}

[Reply B]
{rejected}"""


def prompt_hash(prompt: Prompt) -> str:
    """SHA-256 of the prompt as the judge reads it (the cache key of its rubric)."""
    return hashlib.sha256(render_prompt(prompt).encode("utf-8")).hexdigest()


def parse_criteria(text: str, limit: int) -> list[str]:
    """The criteria of a judge's reply: its list items (``- x``, ``1. x``), cleaned,
    de-duplicated, each 8–300 characters, at most ``limit``.

    Example:
        >>> parse_criteria("Sure!\\n- Names Paris.\\n2) Is short\\n- names paris.", 5)
        ['Names Paris.', 'Is short']
    """
    out: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        item = match.group(1).strip().strip('"').strip()
        key = re.sub(r"\W+", " ", item.casefold()).strip()
        if 8 <= len(item) <= 300 and key not in seen:
            seen.add(key)
            out.append(item)
        if len(out) == limit:
            break
    return out


def _load_judge(judge: str | Any) -> Any:
    model = resolve(judge) if isinstance(judge, str | Path) else judge
    if not hasattr(model, "engine"):
        raise CapabilityError(f"'{describe(model)}' cannot write rubrics: it is not a "
                              "generative judge (judge:default, judge:openai:URL#MODEL, ...)")
    return model


def _ask(judge: Any, questions: Sequence[str], max_tokens: int) -> list[str]:
    """The judge model's greedy reply to each question (a failed one: ``""``)."""
    from rewardlab.llm import ItemFailure

    backend = judge.engine.backend

    def one(question: str) -> str:
        try:
            return backend.generate([{"role": "user", "content": question}], max_tokens)
        except ItemFailure:
            return ""

    return backend.map(one, list(questions))


# --- generation --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RubricGeneration:
    """What ``generate_rubrics`` did: rows written, prompts asked vs read from the cache, and
    how many rubrics needed generic criteria to reach the minimum."""

    out: Path
    n_rows: int
    n_prompts: int
    asked: int
    cached: int
    padded: int


def generate_rubrics(data: str | Path | Dataset[Any], *, judge: str | Any, out: str | Path,
                     min_criteria: int = 3, max_criteria: int = 7,
                     cache_dir: str | Path | None = None, limit: int | None = None,
                     max_tokens: int = _GENERATE_TOKENS) -> RubricGeneration:
    """Write every row of ``data`` with a ``rubric`` column (``llm`` criteria written by the
    judge for its prompt) and a ``rubric_provenance`` column, ready for ``rubric:?judge=...``.

    ``max_tokens``: the longest reply the judge writes per prompt.

    Raises:
        ConfigError: ``min_criteria`` / ``max_criteria`` outside 1 <= min <= max <= 20.
        CapabilityError: ``judge`` is not a generative judge.
    """
    from rewardlab._io import write_jsonl

    if not 1 <= min_criteria <= max_criteria <= 20:
        raise ConfigError(f"criteria per prompt must satisfy 1 <= min <= max <= 20; got min "
                          f"{min_criteria}, max {max_criteria}")
    dataset = data if isinstance(data, Dataset) else load_dataset(data, limit=limit)
    model = _load_judge(judge)
    name = describe(model)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "rubrics"
    settings = f"{name}|{min_criteria}|{max_criteria}|{max_tokens}|v1"
    records = dataset.records
    by_hash: dict[str, Prompt] = {}
    for r in records:
        by_hash.setdefault(prompt_hash(r.prompt), r.prompt)
    keyed = {h: hashlib.sha256(f"{settings}|{h}".encode()).hexdigest() for h in by_hash}
    replies: dict[str, str] = {}
    for h, key in keyed.items():
        path = folder / f"{key}.json"
        if path.is_file():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                # a broken cache entry is asked again
                replies[h] = str(json.loads(path.read_text(encoding="utf-8"))["reply"])
    todo = [h for h in by_hash if h not in replies]
    if todo:
        questions = [GENERATE_PROMPT.format(low=min_criteria, high=max_criteria,
                                            request=render_prompt(by_hash[h])) for h in todo]
        for h, reply in zip(todo, _ask(model, questions, max_tokens), strict=True):
            replies[h] = reply
            if reply:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{keyed[h]}.json").write_text(json.dumps(
                    {"judge": name, "prompt_sha256": h, "reply": reply}), encoding="utf-8")
    rubrics: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
    padded = 0
    for h, reply in replies.items():
        texts = parse_criteria(reply, max_criteria)
        generic = [g for g in GENERIC_CRITERIA if g not in texts][: max(0, min_criteria
                                                                        - len(texts))]
        padded += bool(generic)
        criteria = [{"text": t, "kind": "llm", "weight": 1.0, "hard": False}
                    for t in texts + generic]
        parse_rubric(criteria)  # what is written must be a valid rubric
        rubrics[h] = criteria, {"judge": name, "prompt_sha256": h,
                                "generated": len(texts), "generic": len(generic),
                                "cached": h not in todo, "reply": reply}
    rows = []
    for r in records:
        criteria, provenance = rubrics[prompt_hash(r.prompt)]
        rows.append({**_record_row(r), "rubric": criteria, "rubric_provenance": provenance})
    n = write_jsonl(Path(out), rows)
    return RubricGeneration(out=Path(out), n_rows=n, n_prompts=len(by_hash), asked=len(todo),
                            cached=len(by_hash) - len(todo), padded=padded)


def _prompt_json(prompt: Prompt) -> Any:
    if isinstance(prompt, str):
        return prompt
    return [{"role": m.role, "content": m.content} for m in prompt]


def _record_row(record: Any) -> dict[str, Any]:
    """A record as the row it was read from (the fields rewardlab reads back)."""
    row: dict[str, Any] = {"id": record.id, "prompt": _prompt_json(record.prompt)}
    for name in ("chosen", "rejected", "response", "responses", "subset", "margin", "score"):
        value = getattr(record, name, None)
        if value is not None:
            row[name] = list(value) if isinstance(value, tuple) else value
    return row


# --- induction ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class InducedRubric:
    """What ``induce_rubric`` wrote: the rubric file, its validation accuracy, and how many
    candidates were proposed and kept."""

    out: Path
    accuracy: float
    n_validation: int
    n_candidates: int
    n_kept: int
    rubric: dict[str, Any]


def _pair_accuracy(chosen: np.ndarray, rejected: np.ndarray) -> float:
    """Share of pairs where the chosen side scores higher, ties (and NaN) counting half."""
    wins = np.where(np.isnan(chosen) | np.isnan(rejected), 0.5,
                    np.where(chosen > rejected, 1.0, np.where(chosen == rejected, 0.5, 0.0)))
    return float(wins.mean()) if len(wins) else math.nan


def induce_rubric(pairs: str | Path | Dataset[PairRecord], *, judge: str | Any,
                  out: str | Path, validation: float = 0.5, propose_pairs: int = 8,
                  per_pair: int = 3, max_candidates: int = 12, seed: int = 0,
                  limit: int | None = None, max_tokens: int = _PROPOSE_TOKENS
                  ) -> InducedRubric:
    """Propose criteria from preference pairs, keep those that raise validation accuracy, and
    write one rubric file (``.yaml``/``.yml`` as YAML, anything else as JSON).

    Args:
        validation: share of the pairs held out to evaluate candidates.
        propose_pairs: proposal pairs the judge reads (each proposes up to ``per_pair``).
        max_candidates: candidates evaluated (the first proposed, de-duplicated).
        seed: the shuffle that splits proposal and validation pairs.
        max_tokens: the longest proposal the judge writes per pair.

    Raises:
        DataError: the data is not pairs, or too few to split.
        CapabilityError: ``judge`` is not a generative judge.
    """
    if not 0 < validation < 1:
        raise ConfigError(f"The 'validation' share must be in (0, 1). Got {validation}.")
    dataset = pairs if isinstance(pairs, Dataset) else load_dataset(pairs, limit=limit)
    if dataset.task != "pairwise":
        raise DataError(f"holds {dataset.task} rows; rubric induction needs preference pairs "
                        "(prompt, chosen, rejected)", file=dataset.source)
    records = list(dataset.records)
    if len(records) < 2:
        raise DataError(f"has {len(records)} pair(s); induction needs at least 2 (some to "
                        "propose criteria from, some to validate them on)", file=dataset.source)
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    n_val = min(len(records) - 1, max(1, round(validation * len(records))))
    val = [records[i] for i in order[:n_val]]
    train = [records[i] for i in order[n_val:]][:propose_pairs]
    model = _load_judge(judge)
    name = describe(model)

    questions = [PROPOSE_PROMPT.format(k=per_pair, request=render_prompt(r.prompt),
                                       chosen=r.chosen, rejected=r.rejected) for r in train]
    candidates: list[str] = []
    seen: set[str] = set()
    for reply in _ask(model, questions, max_tokens):
        for text in parse_criteria(reply, per_pair):
            key = re.sub(r"\W+", " ", text.casefold()).strip()
            if key not in seen and len(candidates) < max_candidates:
                seen.add(key)
                candidates.append(text)
    if not candidates:
        raise DataError(f"judge '{name}' proposed no parsable criterion from {len(train)} "
                        "pairs (it must answer with '- ' list items); try a more capable judge",
                        file=dataset.source)

    # every candidate on both sides of every validation pair, as one llm criterion each
    scorer = RubricModel(judge=name)
    scorer.__dict__["_judge_model"] = model
    prompts = [r.prompt for r in val] * 2
    responses = [r.chosen for r in val] + [r.rejected for r in val]
    scores = np.full((len(candidates), 2 * n_val), math.nan)
    for k, text in enumerate(candidates):
        rubric = [{"text": text, "kind": "llm"}]
        verdicts = scorer.grade_with_references(prompts, responses, [rubric] * len(prompts))
        scores[k] = [v.value for v in verdicts]
    singles = [_pair_accuracy(s[:n_val], s[n_val:]) for s in scores]

    kept: list[int] = []
    best = 0.5  # no criterion: every pair a tie
    for k in sorted(range(len(candidates)), key=lambda k: (-singles[k], k)):
        trial = [*kept, k]
        with warnings.catch_warnings():  # a column without any verdict stays NaN (a tie)
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(scores[trial], axis=0)
        accuracy = _pair_accuracy(mean[:n_val], mean[n_val:])
        if accuracy > best:
            kept, best = trial, accuracy
    note = None
    if not kept:
        best_k = min(range(len(candidates)), key=lambda k: (-singles[k], k))
        kept, best = [best_k], singles[best_k]
        note = ("no candidate raised validation accuracy above chance (0.5); the best single "
                "candidate is kept so the file is a usable rubric")
    rubric_json: dict[str, Any] = {
        "name": "induced",
        "provenance": {"judge": name, "data": dataset.source, "pairs": len(records),
                       "proposal_pairs": len(train), "validation_pairs": n_val, "seed": seed,
                       "method": "propose from pairs, keep criteria that raise validation "
                                 "accuracy (greedy, best single accuracy first)"},
        "validation": {"accuracy": round(best, 6), "pairs": n_val},
        "candidates": [{"text": t, "validation_accuracy": round(a, 6), "kept": k in kept}
                       for k, (t, a) in enumerate(zip(candidates, singles, strict=True))],
        "criteria": [{"text": candidates[k], "kind": "llm", "weight": 1.0, "hard": False,
                      "validation_accuracy": round(singles[k], 6)} for k in kept],
    }
    if note:
        rubric_json["note"] = note
    parse_rubric(rubric_json)
    _write_rubric(Path(out), rubric_json)
    return InducedRubric(out=Path(out), accuracy=best, n_validation=n_val,
                         n_candidates=len(candidates), n_kept=len(kept), rubric=rubric_json)


def _write_rubric(path: Path, rubric: dict[str, Any]) -> None:
    from rewardlab._io import _atomic_lines, write_json

    if path.suffix.lower() not in (".yaml", ".yml"):
        write_json(path, rubric)
        return
    import yaml

    _atomic_lines(path, [yaml.safe_dump(rubric, sort_keys=False, allow_unicode=True,
                                        width=100)])
