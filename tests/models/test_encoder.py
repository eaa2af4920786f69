"""The encoder path: same vectors as sentence-transformers, truncation as documented,
cache hits, and results that do not depend on batching or order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _tolerance import assert_fp32_close
from rewardlab._store import EmbeddingCache
from rewardlab.models._encoder import SentenceEncoder, resolve_encoder_path

TEXTS = [
    "The capital of France is Paris.",
    "I can't help with that request.",
    "Sure! Here is a detailed, step-by-step plan for your garden, starting with soil.",
    "",
    "ok",
]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder("minilm", cache=None)


def test_matches_sentence_transformers_encode(encoder: SentenceEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(resolve_encoder_path("minilm")), device="cpu")
    reference.max_seq_length = 256
    expected = reference.encode(TEXTS, convert_to_numpy=True)
    got = encoder.embed(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
    assert_fp32_close(got, expected)  # the same network, run by another library


def test_batching_and_order_do_not_change_vectors() -> None:
    wide = SentenceEncoder("minilm", cache=None, token_budget=4096)
    narrow = SentenceEncoder("minilm", cache=None, token_budget=16, max_batch=1)
    a = wide.embed(TEXTS)
    b = narrow.embed(TEXTS[::-1])[::-1]
    assert_fp32_close(a, b)


def test_left_truncation_keeps_the_end(encoder: SentenceEncoder) -> None:
    end = " and so the final question is: how do I bake bread?"
    one = "apples " * 400 + end
    two = "pears " * 300 + "apples " * 400 + end
    left = encoder.embed([one, two], truncate="left")
    right = encoder.embed([one, two], truncate="right")
    assert_fp32_close(left[0], left[1])  # the same tokens in two rows of one batch
    assert not np.allclose(right[0], right[1], atol=1e-3)


def test_joined_keeps_the_reply_and_the_end_of_the_prompt(encoder: SentenceEncoder) -> None:
    reply = "Knead the dough for ten minutes."
    p1 = "apples " * 400 + "how do I bake bread?"
    p2 = "pears " * 400 + "apples " * 400 + "how do I bake bread?"
    same = encoder.embed_joined([p1, p2], [reply, reply])
    assert_fp32_close(same[0], same[1])
    long_reply = "knead " * 600
    different_end = encoder.embed_joined(["how do I bake bread?", "how do I fix a car?"],
                                         [long_reply, long_reply])
    assert not np.allclose(different_end[0], different_end[1], atol=1e-4)


def test_cache_second_pass_embeds_nothing(tmp_path: Path) -> None:
    first = SentenceEncoder("minilm", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    a = first.embed(TEXTS + TEXTS[:2])  # duplicates are embedded once
    assert first.encoded_texts == len(TEXTS)
    second = SentenceEncoder("minilm", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    b = second.embed(TEXTS + TEXTS[:2])
    assert second.encoded_texts == 0
    np.testing.assert_array_equal(a, b)
    # truncation side is part of the key: a left-truncated view is a different entry
    second.embed(TEXTS[:1], truncate="left")
    assert second.encoded_texts == 1


def test_unusable_cache_degrades_to_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    enc = SentenceEncoder("minilm", cache=EmbeddingCache(blocker / "c.sqlite"))
    with pytest.warns(RuntimeWarning, match="embedding cache .* is unusable"):
        vectors = enc.embed(TEXTS[:2])
    assert vectors.shape == (2, 384)


def test_empty_input(encoder: SentenceEncoder) -> None:
    assert encoder.embed([]).shape == (0, 384)


def test_max_length_past_the_encoders_positions_is_refused(hh_small) -> None:
    """MiniLM has 512 learned positions: embed:minilm?max_length=100000 used to train until a
    long text came, then fail with a traceback on a tensor-size mismatch."""
    from rewardlab import resolve
    from rewardlab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"max_length 513 is more tokens than the encoder .* "
                                          r"positions for \(512, .*use max_length 512 or less"):
        _ = SentenceEncoder("minilm", max_length=513).dim
    with pytest.raises(ConfigError, match="max_length 100000"):
        resolve("embed:minilm?max_length=100000&epochs=1").fit(hh_small[0].take(range(4)))
    assert SentenceEncoder("minilm", max_length=512).dim == 384
