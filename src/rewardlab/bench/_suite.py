"""Suites as data: which files to evaluate, how, and where each table row goes.

A suite is a small TOML file (stdlib ``tomllib``)::

    name = "default"
    [sections]                      # optional: display order and overall weights
    "Chat" = 1.0

    [[task]]
    name = "llmbar"                 # label of the task (and of its row, if it has one row)
    data = "bundled:llmbar"         # a file path (relative to the suite file) or bundled:NAME
    task = "pairwise"               # pairwise | best-of-n | first-error | auto
    subsets = { "LLMBar/Natural" = "Chat Hard", "LLMBar/Adversarial/*" = "Chat Hard" }
    weights = { "LLMBar/Natural" = 100 }   # optional: RewardBench's EXAMPLE_COUNTS override
    holdout = { fraction = 0.25, seed = 0 }  # optional: only the held-out conversations

``section = "Safety"`` puts the whole file in one row of that section; ``rows = "subset"``
with ``section`` gives one row per ``subset`` value; ``subsets`` maps subset names (glob
patterns, first match wins) to sections, and rows whose subset matches no pattern are left
out, counted in the result. A *malformed* suite (unknown key, wrong type, no ``task``
table) raises ``DataError`` naming the file and key. A *well-formed* task that cannot run (a
missing data file, an unknown task name) is not an error here: the runner shows it as a
skipped row with its reason, and the rest of the suite runs.

``--suite FILE`` with a data file instead of a suite makes a one-file suite
(``data_file_suite``): its ``subset`` column gives the rows; RewardBench 1 subset names go
to RewardBench's sections with RewardBench's example counts, every other subset is its own
section (RewardBench 2's convention: the overall score is the mean of its subsets).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rewardlab.errors import DataError

__all__ = [
    "BENCH_TASKS",
    "RB1_EXAMPLE_COUNTS",
    "RB1_SECTION_WEIGHTS",
    "RB1_SUBSET_SECTIONS",
    "Suite",
    "SuiteTask",
    "bundled_suites",
    "data_file_suite",
    "load_suite",
]

#: Task names a suite may use, and the data task each reads.
BENCH_TASKS = {"pairwise": "pairwise", "best-of-n": "best-of-n", "first-error": "steps",
               "auto": None}

#: RewardBench 1's subset → section mapping and example counts, as published in
#: allenai/reward-bench ``rewardbench/constants.py`` (``SUBSET_MAPPING``, ``EXAMPLE_COUNTS``;
#: ``math-prm`` is up-weighted from its 447 rows to 984 "to be equal to code").
RB1_SUBSET_SECTIONS = {
    **dict.fromkeys(("alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard",
                     "mt-bench-easy", "mt-bench-med"), "Chat"),
    **dict.fromkeys(("mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor",
                     "llmbar-adver-GPTInst", "llmbar-adver-GPTOut", "llmbar-adver-manual"),
                    "Chat Hard"),
    **dict.fromkeys(("refusals-dangerous", "refusals-offensive", "xstest-should-refuse",
                     "xstest-should-respond", "donotanswer"), "Safety"),
    **dict.fromkeys(("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python",
                     "hep-rust"), "Reasoning"),
    **dict.fromkeys(("anthropic_harmless", "anthropic_helpful", "anthropic_hhh", "mtbench_gpt4",
                     "mtbench_human", "shp", "summarize"), "Prior Sets"),
}
RB1_EXAMPLE_COUNTS = {
    "alpacaeval-easy": 100, "alpacaeval-length": 95, "alpacaeval-hard": 95,
    "mt-bench-easy": 28, "mt-bench-med": 40, "mt-bench-hard": 37, "math-prm": 984,
    "refusals-dangerous": 100, "refusals-offensive": 100, "llmbar-natural": 100,
    "llmbar-adver-neighbor": 134, "llmbar-adver-GPTInst": 92, "llmbar-adver-GPTOut": 47,
    "llmbar-adver-manual": 46, "xstest-should-refuse": 250, "xstest-should-respond": 154,
    "donotanswer": 136, "hep-cpp": 164, "hep-go": 164, "hep-java": 164, "hep-js": 164,
    "hep-python": 164, "hep-rust": 164,
}
#: The leaderboard counts "Prior Sets" at half weight (allenai/reward-bench issue #87).
RB1_SECTION_WEIGHTS = {"Chat": 1.0, "Chat Hard": 1.0, "Safety": 1.0, "Reasoning": 1.0,
                       "Prior Sets": 0.5}

_TASK_KEYS = {"name", "data", "task", "section", "rows", "subsets", "weights", "holdout"}
_TOP_KEYS = {"name", "description", "sections", "task"}
_SUFFIXES = (".toml",)


@dataclass(frozen=True, kw_only=True)
class SuiteTask:
    """One data file of a suite and how its rows map to table rows and sections.

    Args:
        name: label of the task; the row name when the whole file is one row.
        data: a path or ``bundled:NAME``.
        task: ``pairwise``, ``best-of-n``, ``first-error`` or ``auto``; any other text is kept
            and reported as a skipped row by the runner.
        section: the section of every row (with ``subsets`` empty).
        by_subset: one table row per ``subset`` value instead of one for the file.
        subsets: ``(pattern, section)`` pairs; the first glob pattern that matches a row's
            subset decides its section; unmatched rows are left out (and counted).
        weights: subset → weight of its row in the section mean (default: its row count).
        holdout: ``(fraction, seed)``: keep only ``split_by_prompt``'s test part.
        own_sections: rows whose subset matches no pattern become a section of their own
            name instead of being left out (one-file suites).
    """

    name: str
    data: str
    task: str = "auto"
    section: str | None = None
    by_subset: bool = False
    subsets: tuple[tuple[str, str], ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    holdout: tuple[float, int] | None = None
    own_sections: bool = False


@dataclass(frozen=True, kw_only=True)
class Suite:
    """A named list of tasks plus section weights (overall = weighted mean of sections)."""

    name: str
    tasks: tuple[SuiteTask, ...]
    source: str
    description: str = ""
    section_weights: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "description": self.description,
                "section_weights": self.section_weights,
                "tasks": [{"name": t.name, "data": t.data, "task": t.task, "section": t.section,
                           "by_subset": t.by_subset, "subsets": [list(p) for p in t.subsets],
                           "weights": t.weights, "holdout": t.holdout} for t in self.tasks]}


def bundled_suites() -> list[str]:
    """Names of the suites that ship with rewardlab (``--suite NAME``)."""
    folder = resources.files("rewardlab.bench") / "suites"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))


def load_suite(suite: str | Path) -> Suite:
    """A bundled suite by name, a suite file (``.toml``), or a data file as a one-file suite.

    Raises:
        DataError: the suite file is malformed (names the file and the key), or ``suite`` is
            neither a bundled suite nor an existing file.
    """
    text = str(suite)
    if text in bundled_suites():
        path = Path(str(resources.files("rewardlab.bench") / "suites" / f"{text}.toml"))
        return _parse_file(path, shown=f"bundled suite '{text}'")
    path = Path(text)
    if text.startswith("bundled:") or (path.is_file() and path.suffix.lower() not in _SUFFIXES):
        return data_file_suite(text)
    if not path.exists():
        raise DataError(f"no such suite: give a bundled suite ({', '.join(bundled_suites())}), "
                        "a suite .toml file or a data file", file=text)
    if path.is_dir():
        raise DataError("is a directory; give a suite .toml file or a data file", file=text)
    return _parse_file(path, shown=text)


def data_file_suite(data: str) -> Suite:
    """A one-file suite: one row per ``subset``, sections as RewardBench names them.

    Subsets are discovered by the runner (``by_subset``); this only records the file. RB1
    subset names map to RB1 sections through ``subsets``; any other subset becomes a section
    of its own name (``own_sections``), and rows without a subset one named after the file.
    """
    name = Path(data).name if not data.startswith("bundled:") else data.partition(":")[2]
    task = SuiteTask(name=name, data=data, task="auto", section=None, by_subset=True,
                     subsets=tuple(RB1_SUBSET_SECTIONS.items()),
                     weights={k: float(v) for k, v in RB1_EXAMPLE_COUNTS.items()},
                     own_sections=True)
    return Suite(name=name, tasks=(task,), source=data,
                 description=f"one-file suite over {data}",
                 section_weights=dict(RB1_SECTION_WEIGHTS))


# --- parsing -------------------------------------------------------------------------------


def _parse_file(path: Path, *, shown: str) -> Suite:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the suite: {exc}", file=shown) from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"is not valid TOML: {exc}", file=shown) from None
    return _parse(raw, file=shown, base=path.parent)


def _fail(file: str, key: str, msg: str) -> DataError:
    return DataError(msg, file=file, field=key)


def _str(value: Any, file: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(file, key, f"must be a non-empty string, got {value!r}")
    return value


def _weight(value: Any, file: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(file, key, f"must be a number > 0, got {value!r}")
    return float(value)


def _parse(raw: dict[str, Any], *, file: str, base: Path) -> Suite:
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise _fail(file, unknown[0], f"is not a suite key; suite keys: "
                    f"{', '.join(sorted(_TOP_KEYS))}")
    tasks_raw = raw.get("task")
    if isinstance(tasks_raw, dict):  # `[task]` written for `[[task]]`
        raise _fail(file, "task", "is one table; write each task as an array-of-tables entry, "
                    "[[task]] (two brackets)")
    if tasks_raw is not None and not isinstance(tasks_raw, list):
        raise _fail(file, "task", f"must be [[task]] tables, got {type(tasks_raw).__name__}")
    if not isinstance(tasks_raw, list) or not tasks_raw:
        raise _fail(file, "task", "is missing or empty; a suite needs at least one [[task]] "
                    "table with a 'data' file")
    sections_raw = raw.get("sections", {})
    if not isinstance(sections_raw, dict):
        raise _fail(file, "sections", "must be a table of section = weight")
    weights = {str(k): _weight(v, file, f"sections.{k}") for k, v in sections_raw.items()}
    tasks = []
    names: set[str] = set()
    for i, item in enumerate(tasks_raw):
        task = _parse_task(item, file=file, key=f"task[{i}]", base=base)
        if task.name in names:
            raise _fail(file, f"task[{i}].name", f"'{task.name}' is used by an earlier task; "
                        "task names must be unique")
        names.add(task.name)
        tasks.append(task)
    name = _str(raw.get("name", Path(file).stem), file, "name")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail(file, "description", "must be a string")
    return Suite(name=name, tasks=tuple(tasks), source=file, description=description,
                 section_weights=weights)


def _parse_task(item: Any, *, file: str, key: str, base: Path) -> SuiteTask:
    if not isinstance(item, dict):
        raise _fail(file, key, "must be a table ([[task]])")
    unknown = sorted(set(item) - _TASK_KEYS)
    if unknown:
        raise _fail(file, f"{key}.{unknown[0]}", f"is not a task key; task keys: "
                    f"{', '.join(sorted(_TASK_KEYS))}")
    if "data" not in item:
        raise _fail(file, f"{key}.data", "is missing; every task names its data file "
                    "(a path or bundled:NAME)")
    data = _str(item["data"], file, f"{key}.data")
    if not data.startswith("bundled:") and not Path(data).is_absolute():
        data = str(base / data)
    task = _str(item.get("task", "auto"), file, f"{key}.task")
    section = item.get("section")
    if section is not None:
        section = _str(section, file, f"{key}.section")
    rows = item.get("rows", "file")
    if rows not in ("file", "subset"):
        raise _fail(file, f"{key}.rows", f"must be 'file' or 'subset', got {rows!r}")
    subsets_raw = item.get("subsets", {})
    if not isinstance(subsets_raw, dict):
        raise _fail(file, f"{key}.subsets", "must be a table of subset pattern = section")
    subsets = tuple((str(p), _str(s, file, f"{key}.subsets.{p}"))
                    for p, s in subsets_raw.items())
    if section is None and not subsets:
        raise _fail(file, f"{key}.section", "is missing; give the task a 'section', or map "
                    "its subsets to sections with 'subsets'")
    if section is not None and subsets:
        raise _fail(file, f"{key}.subsets", "cannot be combined with 'section'; map every "
                    "subset in 'subsets', or use 'section' with rows = \"subset\"")
    weights_raw = item.get("weights", {})
    if not isinstance(weights_raw, dict):
        raise _fail(file, f"{key}.weights", "must be a table of subset = weight")
    weights = {str(k): _weight(v, file, f"{key}.weights.{k}") for k, v in weights_raw.items()}
    holdout = None
    if "holdout" in item:
        h = item["holdout"]
        if not isinstance(h, dict) or set(h) - {"fraction", "seed"} or "fraction" not in h:
            raise _fail(file, f"{key}.holdout", "must be a table { fraction = 0.25, seed = 0 }")
        fraction, seed = h["fraction"], h.get("seed", 0)
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) \
                or not 0 < fraction < 1:
            raise _fail(file, f"{key}.holdout.fraction", f"must be in (0, 1), got {fraction!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise _fail(file, f"{key}.holdout.seed", f"must be an integer >= 0, got {seed!r}")
        holdout = (float(fraction), seed)
    default_name = data.partition(":")[2] if data.startswith("bundled:") else Path(data).stem
    name = _str(item.get("name", default_name), file, f"{key}.name")
    return SuiteTask(name=name, data=data, task=task, section=section,
                     by_subset=rows == "subset" or bool(subsets), subsets=subsets,
                     weights=weights, holdout=holdout)
