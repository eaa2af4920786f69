"""In-process backends: a causal LM run with ``transformers`` or with llama.cpp.

Both keep the model's key/value cache of the last token sequence they ran and, for the next
one, run only what follows the longest common prefix. A judge asks its questions in an order
that makes this pay: the two orders of a swapped pair follow each other (they share the
instructions, rubric and conversation), and every question of a batch shares the instructions.
Verdicts are read from the logits of the last position only.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rewardlab.errors import MissingDependencyError, ModelFormatError
from rewardlab.llm._backend import ItemFailure, Messages
from rewardlab.llm._chat import render_chat
from rewardlab.llm._models import check_gguf

__all__ = ["HFBackend", "LlamaCppBackend", "LocalBackend", "sample_token"]

T = TypeVar("T")
R = TypeVar("R")


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = np.exp(z - z.max())
    return z / z.sum()


def sample_token(logits: np.ndarray, temperature: float, top_p: float,
                 rng: np.random.Generator) -> int:
    """One token drawn from ``softmax(logits / temperature)`` cut to its top-``top_p`` mass
    (argmax at temperature 0), with one uniform draw from ``rng``: a row's stream of draws
    depends on nothing but its own seed."""
    if temperature <= 0:
        return int(np.argmax(logits))
    p = _softmax(logits / temperature)
    order = np.argsort(-p, kind="stable")
    mass = np.cumsum(p[order])
    if top_p < 1.0:
        cut = int(np.searchsorted(mass, top_p)) + 1
        order, mass = order[:cut], mass[:cut]
    u = rng.random() * mass[-1]
    return int(order[min(int(np.searchsorted(mass, u, side="right")), len(order) - 1)])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] holds; find the first difference by bisection
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


class LocalBackend:
    """Shared machinery of the in-process backends: prefix reuse, greedy decoding and option
    probabilities. Subclasses provide ``_tokenize``, ``_decode``, ``_run`` and ``_crop``."""

    name = "local"
    n_ctx: int | None = None
    chat_template: str | None = None
    bos_token = ""
    eos_token = ""
    eos_ids: frozenset[int] = frozenset()
    #: run only what follows the cached prefix; False runs every question cold (benchmarks)
    reuse_prefix = True
    #: read verdicts from token probabilities; False makes the judge parse generated text
    use_logprobs = True

    def __init__(self) -> None:
        self._ids: list[int] = []  # the tokens whose keys/values the cache holds
        self._lock = threading.Lock()
        self._option_cache: dict[tuple[str, ...], list[tuple[str, tuple[int, ...]]]] = {}
        self.tokens_run = 0  # tokens actually fed to the model (prefix reuse shows here)

    # --- what a subclass provides -------------------------------------------------------
    def _tokenize(self, text: str) -> list[int]: ...

    def _decode(self, ids: Sequence[int]) -> str: ...

    def _run(self, ids: list[int]) -> np.ndarray:
        """Feed ``ids`` after the cached tokens; the logits of the last position."""
        ...

    def _crop(self, n: int) -> None:
        """Keep only the first ``n`` cached tokens."""
        ...

    # --- shared -------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

    def count_chat_overhead(self) -> int:
        return len(self._chat_ids([{"role": "user", "content": ""}]))

    def _chat_ids(self, messages: Messages) -> list[int]:
        text = render_chat(self.chat_template, messages, bos=self.bos_token, eos=self.eos_token)
        return self._tokenize(text)

    def _advance(self, ids: list[int]) -> np.ndarray:
        """Logits after ``ids``, running only what follows the prefix already cached."""
        if self.n_ctx is not None and len(ids) > self.n_ctx:
            raise ItemFailure(f"the prompt takes {len(ids)} tokens, more than the judge's "
                              f"context of {self.n_ctx}")
        keep = min(_common_prefix(self._ids, ids), len(ids) - 1)
        if not self.reuse_prefix and keep < len(ids) - 1:
            keep = 0  # a new question from scratch (a rationale's next token still continues)
        if keep < len(self._ids):
            self._crop(keep)
            self._ids = self._ids[:keep]
        logits = self._run(ids[keep:])
        self.tokens_run += len(ids) - keep
        self._ids = list(ids)
        return logits

    def reset(self) -> None:
        """Forget the cached prefix (the next question runs cold)."""
        with self._lock:
            self._crop(0)
            self._ids = []

    def _option_tokens(self, options: Sequence[str]) -> list[tuple[str, tuple[int, ...]]]:
        """Each option's token sequences: as written, after a space, and other casings."""
        key = tuple(options)
        if key not in self._option_cache:
            table: list[tuple[str, tuple[int, ...]]] = []
            for option in options:
                variants = {option, " " + option}
                if option.isalpha():
                    variants |= {v for o in (option.lower(), option.upper())
                                 for v in (o, " " + o)}
                seen = set()
                for variant in sorted(variants):
                    ids = tuple(self._tokenize(variant))
                    if not ids or not self._decode(ids[:1]).strip() or ids in seen:
                        continue  # a bare-space first token says nothing about the option
                    seen.add(ids)
                    table.append((option, ids[:2]))
            self._option_cache[key] = table
        return self._option_cache[key]

    def option_probs(self, messages: Messages, options: Sequence[str]
                     ) -> dict[str, float] | None:
        if not self.use_logprobs:
            return None
        ids = self._chat_ids(messages)
        table = self._option_tokens(options)
        with self._lock:
            p = _softmax(self._advance(ids))
            out = dict.fromkeys(options, 0.0)
            singles: dict[int, list[str]] = {}
            doubles: dict[int, list[tuple[int, str]]] = {}
            for option, seq in table:
                if len(seq) == 1:
                    singles.setdefault(seq[0], []).append(option)
                else:
                    doubles.setdefault(seq[0], []).append((seq[1], option))
            for first, rest in doubles.items():
                if p[first] < 1e-6:
                    continue  # negligible: not worth a forward step
                after = _softmax(self._advance([*ids, first]))
                taken = 0.0
                for second in {s for s, _ in rest}:
                    taken += after[second]
                for second, option in rest:
                    out[option] += p[first] * after[second]
                for option in singles.pop(first, []):
                    # "1" as a whole answer: the first token, not followed by "0" (of "10")
                    out[option] += p[first] * max(0.0, 1.0 - taken)
            for first, names in singles.items():
                for option in names:
                    out[option] += p[first]
        return {k: float(v) for k, v in out.items()}

    def generate(self, messages: Messages, max_tokens: int) -> str:
        ids = self._chat_ids(messages)
        with self._lock:
            produced = self._continue(ids, self._advance(ids), max_tokens,
                                      lambda logits: int(np.argmax(logits)))
        return self._decode(produced).strip()

    def _continue(self, ids: list[int], logits: np.ndarray, max_tokens: int,
                  pick: Callable[[np.ndarray], int]) -> list[int]:
        """The tokens ``pick`` chooses one by one after ``ids`` (whose next-token
        ``logits`` are given), up to an end-of-sequence token, ``max_tokens`` or the
        context. Call with the lock held."""
        produced: list[int] = []
        for _ in range(max_tokens):
            token = pick(logits)
            if token in self.eos_ids:
                break
            produced.append(token)
            if self.n_ctx is not None and len(ids) + len(produced) >= self.n_ctx:
                break
            logits = self._advance(ids + produced)
        return produced

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]

    # --- sampled replies (judges that sample and vote) -----------------------------------
    def sample_chat(self, messages: Messages, k: int, *, max_tokens: int,
                    temperature: float, top_p: float, seed: int) -> list[str]:
        """``k`` sampled replies to ``messages``; sample ``i`` draws from
        ``numpy.random.default_rng([seed, i])``. The prompt is run once, from an empty
        cache, so the replies depend only on the messages and the seed (not on what was
        asked before); the samples then decode one after another from that shared prefix
        (``HFBackend`` decodes them as one batch)."""
        ids = self._chat_ids(messages)
        outs: list[str] = []
        with self._lock:
            self._crop(0)
            self._ids = []
            first = self._advance(ids)
            for i in range(k):
                rng = np.random.default_rng([seed, i])
                produced = self._continue(
                    ids, first, max_tokens,
                    lambda logits, rng=rng: sample_token(logits, temperature, top_p, rng))
                outs.append(self._decode(produced).strip())
        return outs

    # --- likelihoods (``likelihood:``) ------------------------------------------------
    def continuation_logprobs(self, context: str, target: str) -> np.ndarray:
        """log p(token | everything before it) for each token of ``target`` after
        ``context``, float64 ``(len(target tokens),)``.

        The two texts are tokenized apart and joined, so ``target``'s tokens are the same
        whatever the context ends with (put a separating space at the start of ``target``).
        The context's cached prefix is reused as for judge questions; a context too long
        for ``n_ctx`` loses its start (the target is never cut).

        Raises:
            ItemFailure: ``target`` is empty, or longer than the whole context window.
        """
        ctx, tgt = self._tokenize(context), self._tokenize(target)
        if not tgt:
            raise ItemFailure("the text to score has no tokens")
        if not ctx:
            raise ItemFailure("the context before the scored text has no tokens")
        if self.n_ctx is not None and len(ctx) + len(tgt) > self.n_ctx:
            if len(tgt) >= self.n_ctx:
                raise ItemFailure(f"the scored text takes {len(tgt)} tokens, more than the "
                                  f"model's context of {self.n_ctx}")
            ctx = ctx[len(ctx) + len(tgt) - self.n_ctx:]
        with self._lock:
            logits = self._target_logits(ctx, tgt)
        z = logits.astype(np.float64)
        top = z.max(axis=1, keepdims=True)
        lse = (top + np.log(np.exp(z - top).sum(axis=1, keepdims=True)))[:, 0]
        return z[np.arange(len(tgt)), tgt] - lse

    def _target_logits(self, ctx: list[int], tgt: list[int]) -> np.ndarray:
        """The logits that predict each token of ``tgt`` after ``ctx``, ``(len(tgt), V)``;
        one token at a time here (llama.cpp keeps only the last position's logits)."""
        rows = [self._advance(ctx)]
        for i in range(1, len(tgt)):
            rows.append(self._advance(ctx + tgt[:i]))
        return np.stack(rows)


# --- transformers ---------------------------------------------------------------------------


class HFBackend(LocalBackend):
    """A causal LM in-process with ``transformers``: a checkpoint directory (safetensors), or a
    GGUF file, dequantised once and cached as safetensors (``dequantised_checkpoint``).

    Args:
        path: a checkpoint directory or a ``.gguf`` file.
        n_ctx: context size in tokens (capped at the model's maximum).
        threads: torch threads; ``None`` leaves torch's setting alone.
    """

    name = "hf"

    def __init__(self, path: str | Path, *, n_ctx: int = 2048, threads: int | None = None
                 ) -> None:
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

        from rewardlab._hf import quiet_transformers
        from rewardlab.llm._models import dequantised_checkpoint

        path = Path(path)
        if not path.exists():
            raise ModelFormatError(f"no model at {path}: judge:hf: takes a transformers "
                                   "checkpoint directory or a .gguf file")
        if path.is_file():
            path = dequantised_checkpoint(check_gguf(path))
        elif not (path / "config.json").exists():
            raise ModelFormatError(f"{path} is not a transformers checkpoint (no config.json)")
        if threads is not None:
            torch.set_num_threads(threads)
        with quiet_transformers():
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        from rewardlab._device import resolve_device

        self._device = resolve_device("auto")  # a GPU when there is one; the CPU otherwise
        self.model.to(self._device).eval()
        self._torch = torch
        self._new_cache = DynamicCache
        self._cache: Any = None
        # the key/value cache argument: `cache` from transformers 5.2x, `past_key_values` before
        params = inspect.signature(type(self.model).forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        tok = self.tokenizer
        limit = getattr(self.model.config, "max_position_embeddings", None) or n_ctx
        self.n_ctx = min(n_ctx, int(limit))
        self.chat_template = tok.chat_template
        self.bos_token, self.eos_token = tok.bos_token or "", tok.eos_token or ""
        eos = {tok.eos_token_id, *tok.convert_tokens_to_ids(["<|im_end|>", "<end_of_turn>"])}
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        eos |= set(gen_eos if isinstance(gen_eos, list) else [gen_eos])
        self.eos_ids = frozenset(i for i in eos if isinstance(i, int) and i != tok.unk_token_id)

    def _tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def _crop(self, n: int) -> None:
        if self._cache is not None:
            if n == 0:
                self._cache = None
            elif n < len(self._ids):
                # negative: "remove this many" in every transformers version (4.x read a
                # positive value as the length to keep; 5.x refuses it)
                self._cache.crop(n - len(self._ids))

    def sample_chat(self, messages: Messages, k: int, *, max_tokens: int,
                    temperature: float, top_p: float, seed: int) -> list[str]:
        """As ``LocalBackend.sample_chat``, the ``k`` samples decoded as one batch: the
        prompt runs once (from an empty cache), its keys/values are repeated ``k`` times and
        each step feeds the ``k`` next tokens together. The prompt-only cache is kept for the
        verdict questions that follow."""
        import copy

        torch = self._torch
        ids = self._chat_ids(messages)
        if self.n_ctx is not None and len(ids) >= self.n_ctx:
            raise ItemFailure(f"the prompt takes {len(ids)} tokens, more than the judge's "
                              f"context of {self.n_ctx}")
        with self._lock:
            self._crop(0)
            self._ids = []
            first = self._advance(ids)
            prompt_cache = copy.deepcopy(self._cache)
            cache = self._cache
            cache.batch_repeat_interleave(k)
            rngs = [np.random.default_rng([seed, i]) for i in range(k)]
            produced: list[list[int]] = [[] for _ in range(k)]
            done = [False] * k
            logits = np.repeat(first[None, :], k, axis=0)
            limit = max_tokens if self.n_ctx is None else min(max_tokens,
                                                              self.n_ctx - len(ids))
            try:
                for _ in range(limit):
                    step = []
                    for i in range(k):
                        token = 0 if done[i] else sample_token(logits[i], temperature, top_p,
                                                                rngs[i])
                        if not done[i] and token in self.eos_ids:
                            done[i] = True
                        elif not done[i]:
                            produced[i].append(token)
                        step.append(token)
                    if all(done) or all(len(p) >= limit for p in produced):
                        break
                    with torch.inference_mode():
                        out = self.model(input_ids=torch.tensor(step)[:, None],
                                         **{self._cache_arg: cache}, use_cache=True,
                                         logits_to_keep=1)
                    cache = getattr(out, self._cache_arg)
                    logits = out.logits[:, -1].float().numpy()
                    self.tokens_run += k - sum(done)
            finally:  # back to the prompt alone, which every sample's verdict starts with
                self._cache = prompt_cache
                self._ids = list(ids)
        return [self._decode(p).strip() for p in produced]

    def _target_logits(self, ctx: list[int], tgt: list[int]) -> np.ndarray:
        """One forward pass over what follows the cached prefix, keeping the logits of the
        positions that predict ``tgt``."""
        ids = ctx + tgt
        keep = min(_common_prefix(self._ids, ids), len(ctx) - 1)
        if not self.reuse_prefix:
            keep = 0
        if keep < len(self._ids):
            self._crop(keep)
            self._ids = self._ids[:keep]
        logits = self._run(ids[keep:], keep_last=len(tgt) + 1)
        self.tokens_run += len(ids) - keep
        self._ids = list(ids)
        return logits[:-1]

    def _run(self, ids: list[int], keep_last: int = 1) -> np.ndarray:
        torch = self._torch
        if self._cache is None:
            self._cache = self._new_cache()
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([ids], device=self._device),
                             **{self._cache_arg: self._cache}, use_cache=True,
                             logits_to_keep=keep_last)
        self._cache = getattr(out, self._cache_arg)
        if keep_last == 1:
            return out.logits[0, -1].float().cpu().numpy()
        return out.logits[0].float().cpu().numpy()


# --- llama.cpp ------------------------------------------------------------------------------


class LlamaCppBackend(LocalBackend):
    """A GGUF model run by llama.cpp (``llama-cpp-python``, the ``rewardlab[llamacpp]`` extra).

    ``logits_all`` stays off (only the last position's logits are computed, and read straight
    from the context), so prompt processing is as fast as llama.cpp allows.

    Args:
        path: a ``.gguf`` file.
        n_ctx: context size in tokens.
        threads: llama.cpp threads; 1 by default, the fastest on a busy 2-core machine.
    """

    name = "gguf"

    def __init__(self, path: str | Path, *, n_ctx: int = 2048, threads: int | None = None
                 ) -> None:
        super().__init__()
        try:
            import llama_cpp
        except ImportError:
            raise MissingDependencyError(
                "judge:gguf: and policy:gguf: need llama-cpp-python: pip install "
                "'rewardlab[llamacpp]' (PyPI has only its source, a ~20 minute compile; `pip "
                "install --find-links ../shared/wheels llama-cpp-python` uses a prebuilt wheel "
                "where there is one). judge:hf: runs the same GGUF file without it; "
                "policy:openai:URL#MODEL uses the model served elsewhere") from None
        path = check_gguf(Path(path))
        self._lib = llama_cpp
        # prompt evaluation too: llama.cpp's batch default is every core, which under CPU
        # contention is slower than one thread
        try:
            self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_batch=512,
                                       n_threads=threads or 1, n_threads_batch=threads or 1,
                                       logits_all=False, verbose=False)
        except ValueError as exc:  # llama.cpp says "Failed to load model from file"
            raise ModelFormatError(f"llama.cpp cannot load {path}: {exc}") from None
        # close while the interpreter is still whole (llama.cpp's own __del__ fails at exit)
        weakref.finalize(self, self.llm.close)
        self.n_ctx = self.llm.n_ctx()
        meta = self.llm.metadata
        self.chat_template = meta.get("tokenizer.chat_template")
        vocab = self.llm._model

        def piece(token_id: int) -> str:
            return vocab.token_get_text(token_id) if token_id >= 0 else ""

        self.bos_token, self.eos_token = piece(self.llm.token_bos()), piece(self.llm.token_eos())
        eos = {self.llm.token_eos()}
        for marker in ("<|im_end|>", "<end_of_turn>", "<|eot_id|>"):
            ids = self.llm.tokenize(marker.encode(), add_bos=False, special=True)
            if len(ids) == 1:
                eos.add(ids[0])
        self.eos_ids = frozenset(eos)
        self._n_vocab = self.llm.n_vocab()

    def _tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _decode(self, ids: Sequence[int]) -> str:
        return self.llm.detokenize(list(ids)).decode("utf-8", errors="replace")

    def _crop(self, n: int) -> None:
        self.llm._ctx.kv_cache_seq_rm(0, n, -1)
        self.llm.n_tokens = n

    def _run(self, ids: list[int]) -> np.ndarray:
        self.llm.eval(ids)
        ptr = self._lib.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    # --- sampling (rollout policies) ----------------------------------------------------
    def completion_tokens(self, text: str) -> list[int]:
        """``text`` as ``create_completion`` tokenizes a prompt (BOS first where the model
        adds one)."""
        llm = self.llm
        bos = [llm.token_bos()] if llm._model.add_bos_token() and llm.token_bos() >= 0 else []
        return bos + llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _start_from(self, head: list[int]) -> None:
        """Leave exactly ``head`` in the key/value cache (see ``sample``)."""
        llm, n = self.llm, len(head)
        if n and llm.n_tokens >= n and llm.input_ids[:n].tolist() == head:
            llm.n_tokens = n  # the rest of the cache is dropped by the next evaluation
        else:
            llm.reset()
            if n:
                llm.eval(head)

    def sample(self, text: str, seeds: Sequence[int], *, shared: str, max_tokens: int,
               temperature: float, top_p: float) -> list[str]:
        """One sampled continuation of ``text`` per seed (in seed order); other settings are
        llama.cpp's defaults (top_k 40, min_p 0.05).

        Every continuation starts from the same state: the key/value cache holds exactly the
        tokens ``text`` shares with ``shared`` (a rollout policy passes the rendered question,
        so it is computed once per problem), and the rest is evaluated afresh. Reusing a cache
        that holds more (an earlier continuation of the same text) would be faster, but
        llama.cpp's logits differ in the last bits between one batch and token-by-token
        evaluation, enough to change a sampled token: a continuation would then depend on what
        ran before it. This way each depends only on its text and seed.

        Raises:
            ItemFailure: llama.cpp refused the prompt (it does not fit the context).
        """
        full = self.completion_tokens(text)
        head = self.completion_tokens(shared)
        keep = next((i for i, (a, b) in enumerate(zip(head, full, strict=False)) if a != b),
                    min(len(head), len(full)))
        head = full[:min(keep, len(full) - 1)]
        texts = []
        with self._lock:
            try:
                for seed in seeds:
                    self._start_from(head)
                    try:
                        out = self.llm.create_completion(
                            text, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                            seed=seed)
                    except ValueError as exc:  # "Requested tokens (...) exceed context window"
                        raise ItemFailure(f"llama.cpp refused the prompt: {exc}") from None
                    texts.append(str(out["choices"][0]["text"]))  # type: ignore[index]
            finally:  # what the cache holds now, for the prefix reuse of ``option_probs``
                self._ids = self.llm.input_ids[:self.llm.n_tokens].tolist()
        return texts

    def sample_chat(self, messages: Messages, k: int, *, max_tokens: int,
                    temperature: float, top_p: float, seed: int) -> list[str]:
        """``k`` sampled replies (seeds ``seed .. seed+k-1``), each from the prompt's cached
        prefix (``sample``)."""
        text = render_chat(self.chat_template, messages, bos=self.bos_token,
                           eos=self.eos_token)
        replies = self.sample(text, [seed + i for i in range(k)], shared=text,
                              max_tokens=max_tokens, temperature=temperature, top_p=top_p)
        return [r.strip() for r in replies]
