"""Suite files: the bundled default, one-file suites, and clear errors for malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardlab.bench import bundled_suites, load_suite
from rewardlab.errors import DataError


def test_default_suite_covers_every_real_set() -> None:
    suite = load_suite("default")
    assert "default" in bundled_suites()
    data = {t.data for t in suite.tasks}
    for name in ("hh_harmless", "llmbar", "pandalm", "finegrained_qa", "evalbiasbench",
                 "gsm8k_examples", "prmbench"):
        assert f"bundled:{name}" in data
    tasks = {t.name: t for t in suite.tasks}
    assert tasks["prmbench"].task == "first-error"
    # real human-labelled first errors: a development figure beside PRMBench
    assert (tasks["mr_gsm8k_dev"].data, tasks["mr_gsm8k_dev"].task,
            tasks["mr_gsm8k_dev"].section) == ("bundled:mr_gsm8k_dev", "first-error", "Process")
    assert tasks["gsm8k_best_of_4"].task == "best-of-n"
    # RewardBench's Chat Hard: LLMBar Natural and Adversarial, not the CaseStudy sets
    assert dict(tasks["llmbar"].subsets) == {"LLMBar/Natural": "Chat Hard",
                                             "LLMBar/Adversarial/*": "Chat Hard"}
    assert tasks["hh_harmless"].holdout == (0.25, 0)


def test_relative_data_paths_resolve_against_the_suite_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "s.toml"
    path.write_text('[[task]]\ndata = "pairs.jsonl"\nsection = "Mine"\n', encoding="utf-8")
    task = load_suite(path).tasks[0]
    assert task.data == str(tmp_path / "sub" / "pairs.jsonl")
    assert task.name == "pairs"


@pytest.mark.parametrize(("text", "match"), [
    ('[[task]]\ndata = "bundled:llmbar"\nsection = "X"\nsubset = "a"\n',
     r"s\.toml: field 'task\[0\]\.subset': is not a task key"),
    ('[[task]]\nsection = "X"\n', r"field 'task\[0\]\.data': is missing"),
    ('[[task]]\ndata = "bundled:llmbar"\n', r"field 'task\[0\]\.section': is missing"),
    ('[[task]]\ndata = "bundled:llmbar"\nsection = 3\n',
     r"field 'task\[0\]\.section': must be a non-empty string"),
    ('[[task]]\ndata = "bundled:llmbar"\nsection = "X"\nrows = "all"\n',
     r"field 'task\[0\]\.rows': must be 'file' or 'subset'"),
    ('[[task]]\ndata = "bundled:llmbar"\nsection = "X"\nweights = { a = -1 }\n',
     r"field 'task\[0\]\.weights\.a': must be a number > 0"),
    ('[[task]]\ndata = "bundled:llmbar"\nsection = "X"\nholdout = { fraction = 2 }\n',
     r"field 'task\[0\]\.holdout\.fraction': must be in \(0, 1\)"),
    ('tasks = 1\n', r"field 'tasks': is not a suite key"),
    ('name = "x"\n', r"field 'task': is missing or empty"),
    ('[task]\ndata = "bundled:llmbar"\nsection = "X"\n',
     r"field 'task': is one table; write each task as .*\[\[task\]\] \(two brackets\)"),
    ('task = 3\n', r"field 'task': must be \[\[task\]\] tables, got int"),
    ('[[task]\n', r"s\.toml: is not valid TOML"),
    ('[[task]]\ndata = "a.jsonl"\nsection = "X"\n[[task]]\ndata = "b/a.jsonl"\nsection = "Y"\n',
     r"field 'task\[1\]\.name': 'a' is used by an earlier task"),
])
def test_malformed_suites_name_the_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        load_suite(path)


def test_unknown_suite_lists_the_bundled_ones() -> None:
    with pytest.raises(DataError, match=r"no such suite: give a bundled suite \(default"):
        load_suite("defualt")


def test_a_data_file_is_a_one_file_suite() -> None:
    suite = load_suite("bundled:llmbar")
    (task,) = suite.tasks
    assert task.by_subset and task.own_sections
    assert dict(task.subsets)["math-prm"] == "Reasoning"
    assert task.weights["math-prm"] == 984
