"""The server's parts without a server: exports, query splitting, metrics text, config."""

from __future__ import annotations

import doctest
import importlib

import pytest

import rewardlab.serve as serve
from rewardlab.data import Message
from rewardlab.errors import ConfigError
from rewardlab.serve import ServeConfig, ServerMetrics, split_query


def _ruff_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_complete_and_resolvable() -> None:
    exported = serve.__all__
    assert exported == sorted(set(exported), key=_ruff_key)
    public = {k for k, v in vars(serve).items() if not k.startswith("_")
              and getattr(v, "__module__", "").startswith("rewardlab")
              and not isinstance(v, type(importlib))}
    assert public <= set(exported)
    for name in exported:
        assert hasattr(serve, name)


@pytest.mark.parametrize("module", ["_guard", "_model", "app", "batcher", "metrics", "runner"])
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"rewardlab.serve.{module}")
    failed, _ = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_import_is_light() -> None:
    """The server imports no torch until a model needs it."""
    import subprocess
    import sys

    code = "import sys, rewardlab.serve; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- splitting OpenRLHF queries ----------------------------------------------------------------

def test_split_with_prompt_strips_end_markers() -> None:
    prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    query = "<pad><pad>" + prompt + "Hello!<|im_end|><|endoftext|><|endoftext|>"
    assert split_query(query, prompt, "query[0]") == (prompt, "Hello!")


def test_split_hh_prompt_becomes_a_conversation() -> None:
    prompt = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you?\n\nAssistant:"
    expected = (Message("user", "hi"), Message("assistant", "hello"),
                Message("user", "how are you?"))
    assert split_query(prompt + " fine</s>", prompt, "q") == (expected, "fine")
    assert split_query(prompt + " fine</s>", None, "q") == (expected, "fine")


def test_split_without_prompt_or_dialogue_is_an_empty_prompt() -> None:
    assert split_query("just text<|endoftext|>", None, "q") == ("", "just text")


def test_split_reports_a_prompt_not_in_its_query() -> None:
    with pytest.raises(ConfigError, match=r"query\[3\]: the query does not contain its prompt"):
        split_query("abc", "xyz", "query[3]")


# --- metrics text ------------------------------------------------------------------------------

def test_metrics_render_prometheus_text() -> None:
    m = ServerMetrics(["/get_reward"])
    m.observe_request("/get_reward", 200, 0.003)
    m.observe_request("/wp-login.php", 404, 0.001)
    m.observe_batch(3, 0.02)
    m.observe_batch(1, 0.01, failed=True)
    text = m.render({"rewardlab_queued_items": ("Items waiting.", lambda: 7)})
    lines = text.splitlines()
    assert 'rewardlab_requests_total{path="/get_reward",status="200"} 1' in lines
    assert 'rewardlab_requests_total{path="other",status="404"} 1' in lines
    assert 'rewardlab_batch_items_bucket{le="1"} 1' in lines
    assert 'rewardlab_batch_items_bucket{le="4"} 2' in lines
    assert 'rewardlab_batch_items_bucket{le="+Inf"} 2' in lines
    assert "rewardlab_batch_items_sum 4" in lines and "rewardlab_batch_items_count 2" in lines
    assert "rewardlab_batch_failures_total 1" in lines
    assert "# TYPE rewardlab_queued_items gauge" in lines and "rewardlab_queued_items 7" in lines
    for line in lines:  # every sample line is `name{labels} number`
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


# --- config ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "name"), [
    ({"max_batch": 0}, "max_batch"), ({"max_wait_ms": -1.0}, "max_wait_ms"),
    ({"max_request_items": 0}, "max_request_items"), ({"max_body_bytes": 0}, "max_body_bytes"),
    ({"token": ""}, "token"), ({"token": " padded "}, "token"),
])
def test_bad_config(kwargs, name) -> None:
    with pytest.raises(ConfigError, match=f"The '{name}' parameter of ServeConfig"):
        ServeConfig(**kwargs)
