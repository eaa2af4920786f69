"""The one place that reads a ``device`` option (``rewardlab._device``), on this machine
(which may have no GPU: then asking for one must be a clear error, exit 2)."""

from __future__ import annotations

import pytest

from rewardlab._device import attn_implementation, check_device, pick_precision, resolve_device
from rewardlab.errors import ConfigError, MissingDependencyError

torch = pytest.importorskip("torch")
NO_CUDA = not torch.cuda.is_available()


def test_auto_is_a_gpu_when_there_is_one_and_the_cpu_otherwise() -> None:
    device = resolve_device("auto")
    assert device.type == ("cuda" if torch.cuda.is_available() else device.type)
    if NO_CUDA and not torch.backends.mps.is_available():
        assert device == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("value", ["cuda", "cuda:1"])
def test_cuda_without_cuda_names_the_flag_and_the_way_out(value) -> None:
    with pytest.raises(ConfigError, match=rf"--device {value}: CUDA is not available.*--device "
                                          "cpu or auto"):
        resolve_device(value)


@pytest.mark.parametrize("value", ["gpu", "cuda:", "CPU", "cuda:x", ""])
def test_misspelt_devices_list_the_choices(value) -> None:
    with pytest.raises(ConfigError, match=r"must be one of 'auto', 'cpu', 'cuda', 'cuda:N'"):
        check_device("SeqConfig", "device", value)


def test_precision_follows_the_device() -> None:
    cpu = torch.device("cpu")
    assert pick_precision("fp32", cpu).dtype is None
    assert pick_precision("bf16", cpu).dtype == torch.bfloat16
    fp16 = pick_precision("fp16", cpu)
    assert fp16.dtype == torch.float16 and fp16.scaler and fp16.grad_scaler() is not None
    assert pick_precision("auto", cpu).grad_scaler() is None  # bf16 or fp32, never fp16
    with pick_precision("bf16", cpu).autocast():
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.bfloat16


def test_flash_attention_needs_its_package() -> None:
    import importlib.util

    assert attn_implementation("sdpa") == "sdpa"
    with pytest.raises(ConfigError, match="attn_implementation"):
        attn_implementation("fast")
    if importlib.util.find_spec("flash_attn") is None:
        with pytest.raises(MissingDependencyError, match="pip install flash-attn"):
            attn_implementation("flash_attention_2")


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_the_cli_says_cuda_is_missing_and_exits_2(run_cli, tmp_path) -> None:
    result = run_cli("train", "bundled:hh_harmless", "--model", "seq:minilm", "--limit", "8",
                     "--device", "cuda", "--out", tmp_path / "rm")
    assert result.code == 2 and "Traceback" not in result.err
    assert "error: --device cuda: CUDA is not available" in " ".join(result.err.split())
    assert not (tmp_path / "rm").exists()


def test_serve_device_applies_to_seq_and_names_kinds_without_it(tmp_path) -> None:
    from rewardlab import api
    from rewardlab.errors import CapabilityError

    model = api.on_device("seq:minilm?max_length=32", "cpu")
    assert model.config.device == "cpu" and model.network.device == torch.device("cpu")
    with pytest.raises(CapabilityError, match=r"'verify:math' has no device option"):
        api.on_device("verify:math", "cpu")


def test_fp16_training_with_a_grad_scaler_runs_on_cpu(hh_small, tmp_path) -> None:
    """The path older GPUs take (fp16 autocast + GradScaler), run here on the CPU."""
    import numpy as np

    from rewardlab import resolve
    from tiny_models import one_thread, tiny_bert

    path = tiny_bert(tmp_path / "bert")
    with one_thread():
        model = resolve(f"seq:{path}?max_length=32&batch_size=4&precision=fp16&lr=1e-3")
        before = {k: v.clone() for k, v in model.network.state_dict().items()}
        model.fit(hh_small[0].take(range(8)))
    (record,) = model.history_
    assert np.isfinite(record["loss"])
    after = model.network.state_dict()
    assert max(float((after[k] - before[k]).abs().max()) for k in before) > 1e-4
    assert model.score(["hi"], ["yo"]).dtype == np.float64
