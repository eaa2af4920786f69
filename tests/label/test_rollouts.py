"""Monte-Carlo rollout labels: the arithmetic (a planted policy whose rollouts we choose, checked
by the real verifier), the input layouts and skip reasons, denoising, and real policies: the
default GGUF in-process and the same model behind llama-cpp-python's server on loopback."""

from __future__ import annotations

import json
from collections.abc import Sequence
from math import comb
from pathlib import Path

import pytest

from rewardlab import api
from rewardlab.data import load_dataset
from rewardlab.errors import BackendError, ConfigError, DataError, ModelFormatError, SpecError
from rewardlab.label import (
    Continuation,
    RolloutConfig,
    RolloutFailure,
    Sampling,
    Solution,
    label_solutions,
    load_policy,
    low_confidence,
    read_solutions,
)
from rewardlab.label.rollouts import rollout_seed
from rewardlab.verify import MathChecker

# a real GSM8K training problem (openai/grade-school-math, MIT), raw format
NATALIA = {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half "
                       "as many clips in May. How many clips did Natalia sell altogether in "
                       "April and May?",
           "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = "
                     "<<48+24=72>>72 clips altogether in April and May.\n#### 72"}
STEPS = ("Natalia sold 48/2 = 24 clips in May.", "In April she sold 48 clips.",
         "Natalia sold 48+24 = 72 clips altogether.\n#### 72")


class PlantedPolicy:
    """Rollouts we choose: for a prefix whose last line is a key of ``right``, that many of
    the k rollouts state the reference (each in another format the verifier must read), the
    rest a wrong answer; the bare question (prefix "") uses key ""."""

    spec, model = "planted", "planted"

    def __init__(self, right: dict[str, int], fail: str | None = None) -> None:
        self.right, self.fail, self.calls = right, fail, []

    def continue_many(self, items: Sequence[Continuation], sampling: Sampling
                      ) -> list[list[str] | RolloutFailure]:
        out: list[list[str] | RolloutFailure] = []
        formats = ("so the answer is 72.", "#### 72", "A: $72", "\\boxed{72}")
        for item in items:
            self.calls.append(item)
            last = item.prefix.strip().split("\n")[-1] if item.prefix.strip() else ""
            if self.fail is not None and last == self.fail:
                out.append(RolloutFailure("planted failure"))
                continue
            n = self.right.get(last, 0)
            out.append([formats[j % 4] if j < n else f"#### {80 + j}"
                        for j in range(len(item.seeds))])
        return out

    def close(self) -> None:
        pass


def solution(steps: Sequence[str] = STEPS, **kw) -> Solution:
    return Solution(id=kw.pop("id", "s"), question=NATALIA["question"], steps=tuple(steps),
                    reference=kw.pop("reference", "72"), **kw)


def test_a_label_is_the_share_of_rollouts_the_verifier_accepts() -> None:
    policy = PlantedPolicy({STEPS[0]: 3, STEPS[1]: 0})
    result = label_solutions([solution()], policy, RolloutConfig(k=4))
    (row,) = result.rows
    assert row["mc_correct"] == [3, 0, 1] and row["mc_values"] == [0.75, 0.0, 1.0]
    assert row["labels"] == [True, False, True]  # hard estimation: any rollout right
    assert row["mc_rollouts"] == [4, 4, 0]  # the last step's own answer is checked instead
    assert row["rollout_answers"][0] == ["72", "72", "$72", "83"]
    assert row["rollouts"]["k"] == 4 and row["rollouts"]["policy"] == "planted"
    assert [len(c.seeds) for c in policy.calls] == [4, 4]
    assert policy.calls[1].prefix == f"{STEPS[0]}\n{STEPS[1]}\n"
    assert result.stats["rollouts"] == 8 and result.stats["positive"] == 2


def test_threshold_and_an_unanswered_last_step() -> None:
    steps = (*STEPS[:2], "Natalia sold 48+24 = 72 clips altogether.")  # states no answer
    policy = PlantedPolicy({STEPS[0]: 2, STEPS[1]: 3, steps[2]: 4})
    (row,) = label_solutions([solution(steps)], policy,
                             RolloutConfig(k=4, threshold=0.5)).rows
    assert row["mc_rollouts"] == [4, 4, 4] and row["mc_values"] == [0.5, 0.75, 1.0]
    assert row["labels"] == [False, True, True]
    wrong = (*STEPS[:2], "So 48+23 = 71.\n#### 71")
    (row,) = label_solutions([solution(wrong)], PlantedPolicy({}), RolloutConfig(k=2)).rows
    assert row["mc_values"][-1] == 0.0 and row["mc_rollouts"][-1] == 0


def test_low_confidence_is_a_binomial_test() -> None:
    # k=4, self-confidence 0.5: all four wrong has probability 1/16 < 0.1, one right 5/16
    assert not low_confidence(0, 4, threshold=0.0, self_confidence=0.5, alpha=0.1)
    assert low_confidence(1, 4, threshold=0.5, self_confidence=0.5, alpha=0.1)
    # a positive is never in doubt at threshold 0; at 0.5, 3 of 4 is plausible (5/16)
    assert not low_confidence(1, 4, threshold=0.0, self_confidence=0.0, alpha=0.5)
    p = sum(comb(4, j) for j in (3, 4)) / 16
    assert low_confidence(3, 4, threshold=0.5, self_confidence=1.0, alpha=p)
    assert not low_confidence(3, 4, threshold=0.5, self_confidence=1.0, alpha=p + 1e-9)


def test_denoising_marks_or_drops_rows_with_doubtful_negatives() -> None:
    weak = PlantedPolicy({"": 0, STEPS[0]: 1, STEPS[1]: 0})  # never solves it alone
    strong = PlantedPolicy({"": 4, STEPS[0]: 1, STEPS[1]: 0})
    marked = label_solutions([solution()], weak, RolloutConfig(k=4, denoise="mark"))
    (row,) = marked.rows
    assert row["self_confidence"] == 0.0
    assert row["confident"] == [True, False, True]  # the zero could be the policy's weakness
    assert marked.stats["low_confidence"] == 1 and marked.stats["dropped"] == 0
    (row,) = label_solutions([solution()], strong, RolloutConfig(k=4, denoise="mark")).rows
    assert row["self_confidence"] == 1.0 and row["confident"] == [True, True, True]
    dropped = label_solutions([solution(), solution(STEPS[:1] + STEPS[2:], id="t")], weak,
                              RolloutConfig(k=4, denoise="drop"))
    assert [r["id"] for r in dropped.rows] == ["t"] and dropped.stats["dropped"] == 1
    (skip,) = dropped.skipped
    assert skip.raw["id"] == "s" and "low-confidence labels (denoise=drop) at steps [2]" in \
        skip.reason and skip.field == "labels"
    # the bare question was rolled out once for both solutions of the problem
    assert [c.prefix for c in weak.calls].count("") == 2  # once per run (mark, drop)


def test_every_solution_is_labelled_or_reported_with_its_reason() -> None:
    solutions = [solution(id="a"), solution(id="b", reference=None),
                 solution(id="c", reference="  "), solution((), id="d"),
                 solution(id="e", steps=("Half of 48 is 24.", "x\n#### 72"))]
    policy = PlantedPolicy({"Half of 48 is 24.": 1}, fail="Half of 48 is 24.")
    result = label_solutions(solutions, policy, RolloutConfig(k=2))
    assert [r["id"] for r in result.rows] == ["a"]
    reasons = {s.raw["id"]: s.reason for s in result.skipped}
    assert set(reasons) == {"b", "c", "d", "e"}
    assert "no reference answer" in reasons["b"]
    assert "states no answer" in reasons["c"]
    assert "no steps" in reasons["d"]
    assert "the policy failed on step 1: planted failure" in reasons["e"]
    assert result.stats["failed"] == 1 and result.stats["solutions"] == 5


def test_rollout_seeds_depend_on_the_prefix_not_the_order() -> None:
    seeds = [rollout_seed(0, "q", "p", j) for j in range(8)]
    assert len(set(seeds)) == 8 and seeds == [rollout_seed(0, "q", "p", j) for j in range(8)]
    assert rollout_seed(1, "q", "p", 0) != seeds[0] != rollout_seed(0, "q", "p2", 0)
    policy = PlantedPolicy({STEPS[0]: 1})
    label_solutions([solution(), solution(id="again")], policy, RolloutConfig(k=3, seed=5))
    assert len(policy.calls) == 2  # the second solution's prefixes were all rolled out
    assert policy.calls[0].seeds == tuple(rollout_seed(5, NATALIA["question"],
                                                       STEPS[0] + "\n", j) for j in range(3))


def test_reads_problems_example_solutions_and_injected_steps(tmp_path: Path) -> None:
    raw = tmp_path / "train.jsonl"
    raw.write_text(json.dumps(NATALIA) + "\n" + json.dumps({"question": "q", "answer": ""})
                   + "\n")
    (natalia, _empty), skipped = read_solutions(raw)
    assert not skipped and natalia.id == 0 and natalia.reference == NATALIA["answer"]
    assert len(natalia.steps) == 2 and natalia.steps[-1].endswith("#### 72")
    examples, _ = read_solutions("bundled:gsm8k_examples", limit=1)
    assert [s.id for s in examples] == ["0:6b_finetuning", "0:6b_verification",
                                        "0:175b_finetuning", "0:175b_verification"]
    assert [s.source["is_correct"] for s in examples] == [False, False, False, True]
    assert {s.reference for s in examples} == {examples[0].reference} and "A: 18" in \
        examples[0].reference
    # `label inject-errors` output: every row carries the original answer as its reference
    injected = tmp_path / "steps.jsonl"
    api.inject_errors(raw, out=injected, limit=1)
    corrupted, correct = read_solutions(injected)[0]
    assert corrupted.reference == "72" and corrupted.source["corruption"]["answer"] == "72"
    assert False in corrupted.source["labels"]
    assert correct.reference == "72" and all(correct.source["labels"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hello"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:1: cannot tell the layout"):
        read_solutions(bad)
    read_back, bad_rows = read_solutions(bad, skip_invalid=True)
    assert not read_back and bad_rows[0].line == 1


def test_api_writes_trl_rows_that_load_as_steps(tmp_path: Path) -> None:
    data = tmp_path / "steps.jsonl"
    data.write_text(json.dumps({"prompt": NATALIA["question"], "completions": list(STEPS),
                                "reference": 72, "id": "x"}) + "\n"
                    + json.dumps({"prompt": "no ref", "completions": ["a"], "id": "y"}) + "\n")
    out = tmp_path / "labelled.jsonl"
    result = api.label_rollouts(data, policy=PlantedPolicy({STEPS[0]: 2}), out=out, k=2)
    assert (result.n_solutions, result.n_rows) == (2, 1)
    loaded = load_dataset(out)
    assert loaded.task == "steps" and loaded[0].labels == (True, False, True)
    skipped = [json.loads(line) for line in result.skipped_file.read_text().splitlines()]
    assert skipped[0]["row"]["id"] == "y" and skipped[0]["line"] == 2


def test_bad_configs_and_specs_fail_before_any_work(tmp_path: Path, unused_port: int
                                                     ) -> None:
    with pytest.raises(ConfigError, match="'k' parameter"):
        RolloutConfig(k=0)
    with pytest.raises(ConfigError, match="'denoise' parameter"):
        RolloutConfig(denoise="maybe")
    with pytest.raises(SpecError, match=r"unknown policy kind 'gpt'.*known: default, gguf"):
        load_policy("policy:gpt:x")
    with pytest.raises(ModelFormatError, match="no GGUF file"):
        load_policy(f"policy:gguf:{tmp_path / 'missing.gguf'}")
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_text("hello")
    with pytest.raises(ModelFormatError, match="not a GGUF file"):
        load_policy(f"policy:gguf:{not_gguf}")
    with pytest.raises(SpecError, match="unknown option 'thread'"):
        load_policy("policy:default?thread=2")
    with pytest.raises(BackendError, match="is the server up"):
        load_policy(f"policy:openai:http://127.0.0.1:{unused_port}/v1#m?retries=0")


def test_a_timeout_is_retried_then_the_row_is_reported(scripted_server) -> None:
    server = scripted_server(["sleep", "sleep"])
    policy = load_policy(f"policy:openai:{server.base}#scripted?timeout=0.5&retries=1"
                         "&backoff=0&concurrency=1")
    result = label_solutions([solution(STEPS[1:])], policy, RolloutConfig(k=1))
    assert not result.rows and result.stats["failed"] == 1
    (skip,) = result.skipped
    assert "within 0.5s (after 2 tries)" in skip.reason and skip.raw["id"] == "s"
    assert policy.retried == 1


def test_429_is_retried_and_n_is_used_when_the_server_honours_it(scripted_server) -> None:
    server = scripted_server(["429", "#### 72"])
    policy = load_policy(f"policy:openai:{server.base}?backoff=0&concurrency=1")
    assert policy.model == "scripted"  # asked from /models
    (row,) = label_solutions([solution(STEPS[1:])], policy, RolloutConfig(k=1)).rows
    assert row["mc_values"] == [1.0, 1.0] and policy.retried == 1
    sent = server.requests[-1]
    assert sent["prompt"].startswith("User: Natalia") and sent["prompt"].endswith(
        "Assistant: In April she sold 48 clips.\n")
    assert sent["seed"] == rollout_seed(0, NATALIA["question"], STEPS[1] + "\n", 0)


# --- real policies -----------------------------------------------------------------------


@pytest.mark.slow
def test_default_gguf_policy_labels_with_the_real_verifier(local_policy, tmp_path) -> None:
    cfg = RolloutConfig(k=2, max_tokens=24, keep_rollouts=True)
    problem = Solution(id=0, question=NATALIA["question"],
                       steps=(*NATALIA["answer"].split("\n")[:2], "#### 72"),
                       reference=NATALIA["answer"])
    first = label_solutions([problem], local_policy, cfg)
    (row,) = first.rows
    assert row["mc_rollouts"] == [2, 2, 0] and row["labels"][-1] is True
    texts = row["rollout_texts"]
    assert len(texts) == 2 and all(len(t) == 2 and all(isinstance(x, str) for x in t)
                                   for t in texts)
    recount = [sum(v.correct for v in MathChecker().check(t, ["72"] * 2)) for t in texts]
    assert row["mc_correct"][:2] == recount
    assert row["labels"] == [c > 0 for c in row["mc_correct"]]
    assert row["rollouts"]["policy"] == "policy:default"
    assert row["rollouts"]["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    # the same rollouts on a second run, after other work changed llama.cpp's cache
    local_policy.continue_many([Continuation((("user", "Hi"),), "", (1,))],
                               Sampling(max_tokens=4))
    assert label_solutions([problem], local_policy, cfg).rows == first.rows


@pytest.mark.slow
def test_openai_policy_against_llama_cpp_server(llama_server, run_cli, tmp_path) -> None:
    spec = f"policy:openai:{llama_server}#smollm2?template=default&concurrency=1"
    policy = load_policy(spec)
    cfg = RolloutConfig(k=2, max_tokens=16, keep_rollouts=True)
    (row,) = label_solutions([solution(STEPS[1:])], policy, cfg).rows
    assert policy.n_supported is False  # llama_cpp.server ignores n: one request per seed
    assert row["mc_rollouts"] == [2, 0] and len(row["rollout_texts"][0]) == 2
    recount = sum(v.correct for v in MathChecker().check(row["rollout_texts"][0], ["72"] * 2))
    assert row["mc_correct"][0] == recount and row["rollouts"]["policy"] == spec
    policy.close()

    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(NATALIA) + "\n" + json.dumps({"question": "q?", "answer": ""})
                    + "\n")
    out = tmp_path / "steps.jsonl"
    result = run_cli("label", "rollouts", data, "--policy", spec, "--k", "1",
                     "--max-tokens", "12", "--out", out, "--denoise", "mark")
    assert result.code == 0, result.err
    assert "wrote 1 of 2 solutions" in result.out and "low-confidence" in result.out
    assert "states no answer" in result.err
    (written,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert written["completions"][-1].endswith("#### 72") and len(written["confident"]) == 2


def test_cli_reports_a_policy_that_cannot_load(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "steps.jsonl"
    result = run_cli("label", "rollouts", "bundled:gsm8k_examples", "--policy",
                     f"policy:gguf:{tmp_path / 'none.gguf'}", "--k", "2", "--out", out)
    assert result.code == 2 and "error:" in result.err and "no GGUF file" in result.err
    assert not out.exists()


def test_a_prompt_longer_than_the_context_is_reported(default_gguf_path) -> None:
    policy = load_policy("policy:default?n_ctx=64")
    try:
        result = label_solutions([solution()], policy, RolloutConfig(k=2))
    finally:
        policy.close()
    assert not result.rows
    assert "more than the policy's context of 64 (option n_ctx)" in result.skipped[0].reason
