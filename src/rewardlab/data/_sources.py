"""Where data comes from: a file path, or ``bundled:NAME`` for a data set that ships inside
the package (with its LICENSE)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rewardlab.data._readers import check_regular
from rewardlab.errors import DataError

__all__ = ["BUNDLED", "bundled_path", "resolve_source"]

#: Data sets that ship inside the package (with their LICENSE files), by name.
BUNDLED = {
    "hh_harmless": "hh_harmless/pairs.jsonl",
    "gsm8k_examples": "gsm8k/example_model_solutions.jsonl",
    # 200 PRMBench rows, 25 per error type, drawn at random (seed 0) from the 2,842 rows of
    # ../shared/data/prmbench whose steps are all non-empty and whose error steps exist
    "prmbench": "prmbench/steps.jsonl",
    # the sets below are copied by tools/bundle_data.py (docs/data.md has the sample sizes)
    "llmbar": "llmbar/pairs.jsonl",
    "pandalm": "pandalm/pairs.jsonl",
    "finegrained_qa": "finegrained_qa/pairs.jsonl",
    "evalbiasbench": "evalbiasbench/pairs.jsonl",
    # not a pairwise file: the same prompts answered concisely / normally / verbosely, each
    # with a GPT-4-turbo preference against a reference; read by the audit's length probe
    "alpacaeval_length": "alpacaeval_length/annotations.jsonl",
    # all 164 HumanEval tasks (MIT) as best-of-2 rows: the canonical solution and a seeded
    # mutant that fails the task's own check (tools/bundle_data.py); verify:code's tests
    "humaneval": "humaneval/tasks.jsonl",
    # 280 BFCL v4 rows (simple, multiple, parallel, parallel-multiple, irrelevance) with their
    # reference calls, each with a correct and a wrong candidate call: tools/bundle_bfcl.py
    "bfcl": "bfcl/rows.jsonl",
    # the dev half of MR-GSM8K's human-labelled first errors (282 wrong model solutions, 2 of
    # them refused for empty steps); the other half is kept back for evaluation
    "mr_gsm8k_dev": "mr_gsm8k/first_errors_dev.jsonl",
    # prm:default's training mix in TRL's PRM format: MR-GSM8K dev (531 solutions),
    # error-injected solutions of 200 GSM8K training problems (370) and 300 PRMBench rows of
    # problems bench does not score (557 solutions); tools/bundle_prm_train.py; LICENSE holds
    # each source's
    "prm_train": "prm_train/steps.jsonl",
}
_BUNDLED_PREFIX = "bundled:"


def bundled_path(name: str) -> Path:
    """Path of a bundled data set (a key of ``BUNDLED``, e.g. ``hh_harmless``)."""
    if name not in BUNDLED:
        raise DataError(
            f"no bundled data set named '{name}'; known: {', '.join(sorted(BUNDLED))}",
            file=_BUNDLED_PREFIX + name,
        )
    return Path(str(resources.files("rewardlab.data") / "bundled" / BUNDLED[name]))


def resolve_source(source: str | Path) -> Path:
    """The file behind ``source``: a path, or ``bundled:NAME`` for a bundled data set.

    Raises:
        DataError: no such file, or not a regular file (a directory, a FIFO, a device such
            as ``/dev/zero``), named as the user gave it.
    """
    text = str(source)
    if text.startswith(_BUNDLED_PREFIX):
        return bundled_path(text[len(_BUNDLED_PREFIX) :])
    path = Path(source)
    if not path.exists():
        raise DataError("no such file", file=text)
    try:
        check_regular(path)
    except DataError as exc:
        raise DataError(exc.reason, file=text) from None
    return path
