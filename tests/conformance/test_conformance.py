"""One spec, one sample, one reward: through every way an RL trainer or a user can ask.

Silent mismatches between reward paths are a known source of RL bugs (a reward model that
scores ``...</s><pad><pad>`` differently from the same answer without them, or an HH prompt as
text in one trainer and as a conversation in another, trains a different policy than the one
evaluated). Each golden file (``golden/*.json``) holds samples, each with

* ``canonical``: the prompt (text, or chat messages), response and reference answer as
  rewardlab's model should see them;
* how each path presents that sample: ``trl`` (the keyword lists ``GRPOTrainer`` passes a
  reward function), ``verl`` (``compute_score``'s keywords), ``openrlhf`` (``reward_func``'s
  queries = prompt + response + end/padding tokens, prompts, labels), ``get_reward`` (the
  JSON body OpenRLHF posts to ``rewardlab serve``) and ``score_row`` (a JSONL row for
  ``rewardlab score``);
* ``reward``: the expected reward.

A conversation is chat messages where the format has them (TRL, verl's ``extra_info``, the
data file) and HH text (``\n\nHuman: ...\n\nAssistant:``) in OpenRLHF's queries, which every
path reads back as the same conversation. A chat-template text (ChatML) is text in every path:
rewardlab does not parse chat templates, so such a prompt is the same text everywhere.

The test computes every sample through all of them: the TRL reward function (and its async
variant), verl's ``compute_score`` loaded from its file (per sample as verl's naive manager
calls it, and as its batch manager does), OpenRLHF's ``reward_func`` loaded from its file,
``POST /get_reward`` of a real server on loopback (one request for the batch, and one request
per sample as recent OpenRLHF sends; and its own ``/v1/score`` with the canonical sample),
``rewardlab score`` on a JSONL file through the CLI's entry point, and the model itself on the
canonical sample. Every path must agree with the model on the canonical sample, and that with
the golden reward:

* ``verify:math`` is exact (math-verify's 0/1): compared bit for bit; so is ``verify:toolcall``,
  whose references are structured (BFCL ground truth with the row's tools) and reach it as a
  dataset column beside a ``tools`` column (TRL), a JSON object (verl, ``/get_reward``
  labels, ``/v1/score``), JSON text (OpenRLHF labels) and a data row's fields (``score``);
* a trained ``embed:minilm`` head (its weights kept beside the golden file; ``conftest.py``
  says why they are not retrained per run) is fp32 arithmetic whose last bits depend on the
  CPU's kernels, the thread count and the batch composition (the server micro-batches, the
  adapters score a batch, verl's naive manager one sample): compared at fp32 round-off,
  ``rtol 1e-5, atol 1e-6``. The point is the cross-path agreement, computed on every run.

Regenerate the golden rewards (never done by a plain test run) with::

    REWARDLAB_REGEN_GOLDEN=1 python -m pytest tests/conformance -q

That computes every sample through every path, still fails if any two paths disagree, and
otherwise writes the canonical rewards into ``golden/*.json`` (samples, presentations and
order untouched; the embed model is retrained only if ``golden/embed_minilm.model`` is
deleted). Review the diff before committing it: a changed golden reward is a change of
behaviour of the model or of a path. To add a sample, add it with ``"reward": null`` and
regenerate.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import rewardlab.adapters.openrlhf as openrlhf_file
import rewardlab.adapters.verl as verl_file
from rewardlab import resolve
from rewardlab.adapters import AsyncTRLRewardFunction, TRLRewardFunction
from rewardlab.data import Message, Prompt
from rewardlab.errors import ConfigError
from rewardlab.models.base import ReferenceScorer
from rewardlab.serve import BackgroundServer, ServeConfig, create_app

pytest.importorskip("torch")

GOLDEN = Path(__file__).parent / "golden"
RTOL, ATOL = 1e-5, 1e-6  # fp32 round-off (see the module docstring)
PATHS = ("trl", "trl_async", "verl", "verl_batch", "openrlhf", "get_reward", "get_reward_each",
         "v1_score", "score")


def read_golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))


def write_golden(name: str, golden: dict[str, Any]) -> None:
    """Rewrite one golden file in the layout it is kept in (one-space indent, UTF-8)."""
    (GOLDEN / f"{name}.json").write_text(
        json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


# --- how each path is called -------------------------------------------------------------

def load_file_function(path: str, name: str) -> Callable[..., Any]:
    """What verl's ``get_custom_reward_fn`` and OpenRLHF's ``--remote_rm_url`` loader do:
    import the file by path (a fresh module, not the package's) and take the function."""
    module_name = f"conformance_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    return getattr(module, name)


def merged(parts: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    """One batch from per-sample batches of one (every sample must have the same keys)."""
    keys = set(parts[0])
    assert all(set(p) == keys for p in parts), "every sample of a file needs the same keys"
    return {k: [v for p in parts for v in p[k]] for k in parts[0]}


def as_prompt(value: Any) -> Prompt:
    return value if isinstance(value, str) else tuple(Message(m["role"], m["content"])
                                                      for m in value)


def via_model(spec: str, samples: list[dict]) -> list[float]:
    """The model itself on the canonical samples."""
    model = resolve(spec)
    c = [s["canonical"] for s in samples]
    prompts, responses = [as_prompt(x["prompt"]) for x in c], [x["response"] for x in c]
    if isinstance(model, ReferenceScorer):
        out = model.score_with_references(prompts, responses, [x["reference"] for x in c])
    else:
        out = model.score(prompts, responses)
    return [float(v) for v in out]


def via_trl(spec: str, samples: list[dict]) -> list[float]:
    return TRLRewardFunction(spec)(**merged([s["trl"] for s in samples]))


def via_trl_async(spec: str, samples: list[dict]) -> list[float]:
    """The coroutine variant TRL awaits (its own scoring route: ``CombinedReward.ascore``)."""
    return asyncio.run(AsyncTRLRewardFunction(spec)(**merged([s["trl"] for s in samples])))


def via_verl(spec: str, samples: list[dict]) -> list[float]:
    compute_score = load_file_function(verl_file.__file__, "compute_score")
    return [compute_score(**s["verl"])["score"] for s in samples]


def via_verl_batch(spec: str, samples: list[dict]) -> list[float]:
    compute_score = load_file_function(verl_file.__file__, "compute_score")
    out = compute_score(data_sources=[s["verl"]["data_source"] for s in samples],
                        solution_strs=[s["verl"]["solution_str"] for s in samples],
                        ground_truths=[s["verl"]["ground_truth"] for s in samples],
                        extra_infos=[s["verl"]["extra_info"] for s in samples])
    return [row["score"] for row in out]


def via_openrlhf(spec: str, samples: list[dict]) -> list[float]:
    reward_func = load_file_function(openrlhf_file.__file__, "reward_func")
    batch = merged([s["openrlhf"] for s in samples])
    return reward_func(batch["queries"], batch["prompts"], batch["labels"])["rewards"].tolist()


def post_get_reward(url: str, body: dict[str, Any]) -> list[float]:
    """What OpenRLHF's ``remote_rm_fn`` sends; fails loudly on any non-200 answer."""
    response = httpx.post(url + "/get_reward", json=body, timeout=120,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()["rewards"]


def post_v1_score(url: str, samples: list[dict]) -> list[float]:
    """rewardlab's own route, with the canonical sample (a conversation as messages)."""
    items = [{"prompt": s["canonical"]["prompt"], "response": s["canonical"]["response"],
              "reference": s["canonical"]["reference"]} for s in samples]
    response = httpx.post(url + "/v1/score", json={"items": items}, timeout=120)
    assert response.status_code == 200, response.text
    return [r["reward"] for r in response.json()["results"]]


def via_score_cli(spec: str, samples: list[dict], run_cli: Callable, tmp_path: Path
                  ) -> list[float]:
    data, out = tmp_path / "samples.jsonl", tmp_path / "scores.jsonl"
    data.write_text("".join(json.dumps(s["score_row"], ensure_ascii=False) + "\n"
                            for s in samples), encoding="utf-8")
    result = run_cli("score", spec, str(data), "--out", str(out))
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [s["name"] for s in samples]
    assert all(len(r["rewards"]) == 1 for r in rows)
    return [r["rewards"][0] for r in rows]


def rewards_by_path(spec: str, samples: list[dict], *, monkeypatch: pytest.MonkeyPatch,
                    run_cli: Callable, tmp_path: Path) -> dict[str, list[float]]:
    """Every sample's reward through every path, plus ``canonical`` (the model itself)."""
    monkeypatch.setenv(verl_file.SPEC_ENV, spec)  # both trainer files read this variable
    monkeypatch.delenv(verl_file.PROMPT_KEY_ENV, raising=False)
    monkeypatch.delenv(openrlhf_file.SCORES_ENV, raising=False)
    got = {"canonical": via_model(spec, samples), "trl": via_trl(spec, samples),
           "trl_async": via_trl_async(spec, samples),
           "verl": via_verl(spec, samples), "verl_batch": via_verl_batch(spec, samples),
           "openrlhf": via_openrlhf(spec, samples)}
    app = create_app(spec, ServeConfig(max_batch=4, max_wait_ms=2))  # several model calls
    with BackgroundServer(app) as server:
        got["get_reward"] = post_get_reward(server.url, merged([s["get_reward"]
                                                                for s in samples]))
        got["get_reward_each"] = [post_get_reward(server.url, s["get_reward"])[0]
                                  for s in samples]
        got["v1_score"] = post_v1_score(server.url, samples)
    got["score"] = via_score_cli(spec, samples, run_cli, tmp_path)
    assert set(got) == {"canonical", *PATHS}
    return got


# --- the checks ------------------------------------------------------------------------------

def agree(a: float, b: float, compare: str) -> bool:
    """``bitwise``: the same float64; ``fp32``: equal to fp32 round-off (numpy.isclose's
    rule, rtol 1e-5 relative to ``b``, atol 1e-6)."""
    if compare == "bitwise":
        return type(a) is float and a == b and math.copysign(1, a) == math.copysign(1, b)
    return math.isfinite(a) and abs(a - b) <= ATOL + RTOL * abs(b)


@pytest.fixture(scope="module", params=[  # the embed file loads MiniLM four times: ~10 s
    "verify_math", "verify_code", "verify_toolcall",
    pytest.param("embed_minilm", marks=pytest.mark.slow)])
def golden(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, read_golden(request.param)


def spec_of(name: str, request: pytest.FixtureRequest) -> str:
    if name in ("verify_math", "verify_toolcall"):
        return name.replace("_", ":", 1)
    if name == "verify_code":
        return read_golden(name)["spec"]
    return str(request.getfixturevalue("conformance_embed_dir"))


def test_every_path_gives_the_canonical_reward(golden, request, monkeypatch, run_cli,
                                               tmp_path, regenerate) -> None:
    name, data = golden
    samples, compare = data["samples"], data["compare"]
    got = rewards_by_path(spec_of(name, request), samples, monkeypatch=monkeypatch,
                          run_cli=run_cli, tmp_path=tmp_path)
    canonical = got["canonical"]
    assert all(math.isfinite(v) for v in canonical), canonical
    problems = [f"{s['name']}: {path} gives {v!r}, the model on the canonical sample {c!r}"
                for path in PATHS
                for s, v, c in zip(samples, got[path], canonical, strict=True)
                if not agree(float(v), c, compare)]
    assert not problems, f"{name}: the paths disagree:\n" + "\n".join(problems)

    if regenerate:
        for s, value in zip(samples, canonical, strict=True):
            s["reward"] = value
        write_golden(name, data)
        return
    unset = [s["name"] for s in samples if s["reward"] is None]
    assert not unset, (f"{name}: no golden reward for {unset}; regenerate them (see "
                       "this module's docstring)")
    changed = [f"{s['name']}: golden {s['reward']!r}, now {c!r}"
               for s, c in zip(samples, canonical, strict=True)
               if not agree(c, float(s["reward"]), compare)]
    assert not changed, f"{name}: rewards differ from the golden file:\n" + "\n".join(changed)


def test_golden_files_cover_what_the_paths_must_handle(golden) -> None:
    """The samples that catch the known mismatches stay in the files: HH prompts, chat
    messages, trailing end-of-turn and padding tokens, left padding, an empty response and
    non-ASCII text; every presentation is a batch of one; names are unique."""
    _, data = golden
    samples = data["samples"]
    names = [s["name"] for s in samples]
    assert len(set(names)) == len(names)
    for s in samples:
        assert {"name", "about", "reward", "canonical", "trl", "verl", "openrlhf",
                "get_reward", "score_row"} <= set(s), s["name"]
        assert all(len(v) == 1 for v in (*s["trl"].values(), *s["openrlhf"].values(),
                                          *s["get_reward"].values())), s["name"]
        assert s["score_row"]["id"] == s["name"]
    queries = [s["openrlhf"]["queries"][0] for s in samples]
    verl_prompts = [s["verl"]["extra_info"].get("prompt") for s in samples]
    assert any(q.startswith("\n\nHuman:") for q in queries), "an HH prompt"
    assert any(isinstance(s["trl"]["prompts"][0], list) for s in samples), "chat messages"
    assert any(isinstance(p, list) for p in verl_prompts), "chat messages in verl"
    for marker in ("</s>", "<|im_end|>", "<|endoftext|>", "<pad>"):
        assert any(q.endswith(marker) for q in queries), marker
    assert any(q.startswith("<pad>") for q in queries), "left padding"
    assert any(s["verl"]["solution_str"] != s["canonical"]["response"] for s in samples)
    assert any(s["canonical"]["response"] == "" for s in samples), "an empty response"
    assert any(not q.isascii() for q in queries), "non-ASCII text"


@pytest.mark.parametrize(("label", "server_says", "score_says"), [
    (None, "labels[0] is missing", "has no reference answer"),
    ("", "labels[0] is missing", "has no reference answer"),
    (["4", "4.0"], "labels[0] is a list", "field 'reference': is a list"),
], ids=["null", "empty", "list"])
def test_a_missing_or_unusable_reference_is_refused_by_every_path(
        label, server_says, score_says, monkeypatch, run_cli, tmp_path) -> None:
    """A verifier without one usable reference answer is an error naming the sample in every
    path, never a silent 0. ``""`` is what OpenRLHF sends without ``--label_key``; a list is
    what some verl data sets hold. The server refused both while the adapters scored ``""``
    and ``str(list)`` as answers, 0 every time (fixed in ``CombinedReward``)."""
    monkeypatch.setenv(verl_file.SPEC_ENV, "verify:math")
    refused = "reference answer|none were given"
    with pytest.raises(ConfigError, match=refused):
        TRLRewardFunction("verify:math")(prompts=["Q: 2+2?"], completions=[" #### 4"],
                                         answer=[label])
    compute_score = load_file_function(verl_file.__file__, "compute_score")
    with pytest.raises(ConfigError, match=refused):
        compute_score(data_source="d", solution_str=" #### 4", ground_truth=label,
                      extra_info={})
    reward_func = load_file_function(openrlhf_file.__file__, "reward_func")
    with pytest.raises(ConfigError, match=refused):
        reward_func(["Q: 2+2? #### 4</s>"], ["Q: 2+2?"], [label])
    with BackgroundServer(create_app("verify:math", warm_up=False)) as server:
        answer = httpx.post(server.url + "/get_reward", json={
            "query": ["Q: 2+2? #### 4</s>"], "prompts": ["Q: 2+2?"], "labels": [label]})
    assert answer.status_code == 422 and server_says in answer.json()["detail"]
    if score_says is not None:
        row = {"prompt": "Q: 2+2?", "responses": [" #### 4"]}
        if label is not None:
            row["reference"] = label
        data = tmp_path / "rows.jsonl"
        data.write_text(json.dumps(row) + "\n")
        result = run_cli("score", "verify:math", str(data), "--out", str(tmp_path / "o.jsonl"))
        assert result.code == 2 and score_says in " ".join(result.err.split()), result.err
