"""``likelihood:``: log-probabilities of a causal LM as rewards, on a tiny random Llama built
here (the machinery), the shipped SmolLM2 (that the reference mode ranks solutions), and a real
OpenAI-compatible stand-in server on loopback (the ``echo`` + ``logprobs`` path)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.tiny_models import one_thread, tiny_causal_lm

from rewardlab import resolve
from rewardlab.errors import BackendError, CapabilityError, ConfigError, SpecError
from rewardlab.models.base import ReferenceScorer
from rewardlab.models.likelihood import cut_final_answer


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


def _direct_logprobs(path: Path, context: str, target: str) -> np.ndarray:
    """The same numbers computed the plain way: one full forward pass, no cache."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    tgt = tok(target, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ctx + tgt])).logits[0].double()
    logp = logits.log_softmax(-1)
    return np.array([logp[len(ctx) - 1 + i, t].item() for i, t in enumerate(tgt)])


def test_specs_and_bad_input(tiny_lm: Path) -> None:
    assert isinstance(resolve("likelihood:policy:default?mode=reference"), ReferenceScorer)
    assert not isinstance(resolve(f"likelihood:hf:{tiny_lm}?mode=followup"), ReferenceScorer)
    with pytest.raises(SpecError, match="needs a language model"):
        resolve("likelihood:")
    with pytest.raises(SpecError, match="cannot read the language model"):
        resolve("likelihood:mystery:x")
    with pytest.raises(ConfigError, match=r"'weak' parameter .* required with mode=ratio"):
        resolve(f"likelihood:hf:{tiny_lm}?mode=ratio")
    with pytest.raises(ConfigError, match="'mode' parameter"):
        resolve(f"likelihood:hf:{tiny_lm}?mode=vibes")
    model = resolve(f"likelihood:hf:{tiny_lm}?mode=reference")
    with pytest.raises(CapabilityError, match="score_with_references"):
        model.score(["q"], ["A: 1"])
    with pytest.raises(ConfigError, match="references\\[1\\] is None: row 1 has no reference"):
        model.score_with_references(["q", "q"], ["A: 1", "A: 2"], ["1", None])


def test_final_answer_is_cut_where_it_starts() -> None:
    assert cut_final_answer("6 * 3 = 18\n#### 18") == ("6 * 3 = 18\n####", " ")
    assert cut_final_answer("so the answer is \\boxed{7}.") == ("so the answer is \\boxed{", "")
    assert cut_final_answer("it makes 12 apples") == ("it makes", " ")


def test_logprobs_match_a_plain_forward_pass_whatever_the_cache(tiny_lm: Path) -> None:
    from rewardlab.llm import HFBackend

    with one_thread():
        backend = HFBackend(tiny_lm)
        context, target = "user : what is two plus two ? assistant : it is", " four ."
        expected = _direct_logprobs(tiny_lm, context, target)
        first = backend.continuation_logprobs(context, target)
        again = backend.continuation_logprobs(context, target)  # the whole prefix cached
        other = backend.continuation_logprobs(context, " five .")
        backend.reuse_prefix = False
        cold = backend.continuation_logprobs(context, target)
    np.testing.assert_allclose(first, expected, atol=1e-5)
    np.testing.assert_allclose(again, expected, atol=1e-5)
    np.testing.assert_allclose(cold, expected, atol=1e-5)
    assert other.shape == (2,) and not np.allclose(other, expected)
    assert (first < 0).all()


def test_scores_do_not_depend_on_batch_or_order_and_are_cached(tiny_lm: Path) -> None:
    prompts = ["add 2 and 3", "add 2 and 3", "name a colour", "add 4 and 4"]
    responses = ["2 + 3 = 5\nA: 5", "2 + 3 = 6\nA: 6", "red", "4 + 4 = 8\nA: 8"]
    references = ["5", "5", "red", "8"]
    with one_thread():
        model = resolve(f"likelihood:hf:{tiny_lm}?mode=reference&cache=false")
        whole = model.score_with_references(prompts, responses, references)
        parts = np.concatenate([model.score_with_references(prompts[i:i + 1],
                                                            responses[i:i + 1],
                                                            references[i:i + 1])
                                for i in range(4)])
        backwards = model.score_with_references(prompts[::-1], responses[::-1],
                                                references[::-1])[::-1]
        cached = resolve(f"likelihood:hf:{tiny_lm}?mode=reference")
        first = cached.score_with_references(prompts, responses, references)
        backend = cached._model(cached.lm).backend
        ran = backend.tokens_run
        second = cached.score_with_references(prompts, responses, references)
        assert backend.tokens_run == ran  # every pass read from the on-disk cache
        fresh = resolve(f"likelihood:hf:{tiny_lm}?mode=reference")  # a new process's view
        third = fresh.score_with_references(prompts, responses, references)
        assert fresh._model(fresh.lm)._backend is None  # the model was never even loaded
    for other in (parts, backwards, first, second, third):
        np.testing.assert_allclose(other, whole, atol=1e-5)


def test_followup_and_ratio(tiny_lm: Path, tmp_path: Path) -> None:
    other = tiny_causal_lm(tmp_path / "weak", seed=1)
    with one_thread():
        followup = resolve(f"likelihood:hf:{tiny_lm}?mode=followup&cache=false")
        values = followup.score(["hi", "hi"], ["hello there", "go away"])
        summed = resolve(f"likelihood:hf:{tiny_lm}?mode=followup&reduce=sum&cache=false")
        totals = summed.score(["hi", "hi"], ["hello there", "go away"])
        ratio = resolve(f"likelihood:hf:{tiny_lm}?mode=ratio&weak=hf:{other}&cache=false")
        diff = ratio.score(["hi"], ["hello there"])
        self_ratio = resolve(f"likelihood:hf:{tiny_lm}?mode=ratio&weak=hf:{tiny_lm}"
                             "&cache=false")
        zero = self_ratio.score(["hi"], ["hello there"])
    assert values.shape == (2,) and (values < 0).all()
    assert (totals < values).all()  # a sum over several tokens is below their mean
    assert np.isfinite(diff).all() and diff[0] != 0.0
    np.testing.assert_allclose(zero, 0.0, atol=1e-9)


@pytest.mark.slow
def test_reference_mode_ranks_real_gsm8k_solutions() -> None:
    """The shipped 135M model, no training: the reference's answer is likelier after the
    solution that reaches it (two problems, eight solutions)."""
    from rewardlab.data import load_dataset

    data = load_dataset("bundled:gsm8k_examples", limit=2)
    with one_thread():
        model = resolve("likelihood:policy:default?mode=reference&cache=false")
        for record in data:
            scores = model.score_with_references([record.prompt] * 4, list(record.responses),
                                                 [record.reference] * 4)
            right = [s for s, ok in zip(scores, record.is_correct, strict=True) if ok]
            wrong = [s for s, ok in zip(scores, record.is_correct, strict=True) if not ok]
            assert min(right) > max(wrong)


# --- an OpenAI-compatible server ---------------------------------------------------------


class _StandIn(BaseHTTPRequestHandler):
    """``/v1/models`` and ``/v1/completions`` as vLLM answers them with ``echo`` and
    ``logprobs``: every prompt token's log-probability given the tokens before it (none for
    the first), with character offsets. ``logprobs`` off: a server that gives none."""

    backend: Any = None
    logprobs = True

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send({"data": [{"id": "tiny"}]})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        choice: dict[str, Any] = {"index": 0, "text": request["prompt"] + "x"}
        if self.logprobs:
            import torch

            tok, model = self.backend.tokenizer, self.backend.model
            enc = tok(request["prompt"], add_special_tokens=False, return_offsets_mapping=True)
            ids = enc["input_ids"]
            with torch.inference_mode():
                logp = model(input_ids=torch.tensor([ids])).logits[0].double().log_softmax(-1)
            values = [None] + [logp[i - 1, t].item() for i, t in enumerate(ids) if i]
            choice["logprobs"] = {"tokens": tok.convert_ids_to_tokens(ids),
                                  "token_logprobs": values,
                                  "text_offset": [a for a, _ in enc["offset_mapping"]]}
        self._send({"choices": [choice]})


def _serve(handler: type) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def stand_in(tiny_lm: Path) -> Iterator[str]:
    from rewardlab.llm import HFBackend

    handler = type("LogprobServer", (_StandIn,), {"backend": HFBackend(tiny_lm)})
    yield from _serve(handler)


@pytest.fixture(scope="module")
def no_logprobs_server() -> Iterator[str]:
    yield from _serve(type("PlainServer", (_StandIn,), {"logprobs": False}))


def test_server_gives_the_in_process_numbers(tiny_lm: Path, stand_in: str) -> None:
    prompts, responses = ["add 2 and 3"] * 2, ["2 + 3 = 5\nA: 5", "2 + 3 = 6\nA: 6"]
    with one_thread():
        local = resolve(f"likelihood:hf:{tiny_lm}?mode=reference&cache=false")
        remote = resolve(f"likelihood:openai:{stand_in}?mode=reference&cache=false")
        expected = local.score_with_references(prompts, responses, ["5", "5"])
        got = remote.score_with_references(prompts, responses, ["5", "5"])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_server_without_logprobs_is_a_clear_error(no_logprobs_server: str) -> None:
    model = resolve(f"likelihood:openai:{no_logprobs_server}#m?mode=followup&cache=false")
    with pytest.raises(BackendError, match="no log-probabilities of the prompt"):
        model.score(["hi"], ["hello"])


def test_llama_cpp_scores_token_by_token() -> None:
    """``gguf:`` runs llama.cpp, which keeps only the last position's logits: the target is
    fed one token at a time; the numbers do not depend on the cached prefix."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    model = resolve("likelihood:gguf:default?mode=followup&cache=false&n_ctx=512")
    warm = model.score(["What is 2+2?", "What is 2+2?"], ["4", "I like turtles."])
    backend = model._model(model.lm).backend
    backend.reuse_prefix = False
    cold = model.score(["What is 2+2?", "What is 2+2?"], ["4", "I like turtles."])
    np.testing.assert_allclose(warm, cold, atol=1e-3)
    assert (warm < 0).all() and warm[0] != warm[1]


def test_the_reward_model_contract(tiny_lm: Path, tmp_path: Path) -> None:
    from rewardlab.testing import check_reward_model

    prompts = ["add 2 and 3", "add 2 and 3", "name a colour"]
    responses = ["2 + 3 = 5\nA: 5", "2 + 3 = 6\nA: 6", "red"]
    with one_thread():
        passed = check_reward_model(resolve(f"likelihood:hf:{tiny_lm}?mode=followup"),
                                    prompts=prompts, responses=responses,
                                    directory=tmp_path / "followup")
        assert "save_load" in passed
        passed = check_reward_model(resolve(f"likelihood:hf:{tiny_lm}?mode=reference"),
                                    prompts=prompts, responses=responses,
                                    references=["5", "5", "red"],
                                    directory=tmp_path / "reference")
        assert "save_load" in passed
