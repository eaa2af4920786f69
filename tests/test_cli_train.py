"""`rewardlab train` for seq:, ensembles and noisy labels: results and clean errors."""

from __future__ import annotations

import json
import re

import pytest

from test_cli import assert_clean_error


@pytest.fixture
def pairs_file(hh_small, tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": r.prompt[-1].content, "chosen": r.chosen, "rejected": r.rejected}
            for r in hh_small[0].take(range(12))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_seq_training_with_eval_data_reports_held_out_accuracy(run_cli, pairs_file,
                                                              tmp_path) -> None:
    out = tmp_path / "rm"
    result = run_cli("train", pairs_file, "--model", "seq:minilm", "--out", out,
                     "--max-length", "32", "--batch-size", "4", "--eval-data", pairs_file,
                     "--loss", "hinge")
    assert result.code == 0, result.err
    assert "held-out accuracy" in result.out
    manifest = json.loads((out / "rewardlab.json").read_text())
    assert manifest["config"]["loss"] == "hinge" and manifest["config"]["max_length"] == 32
    assert manifest["state"]["final_epoch"]["eval_accuracy"] >= 0


def test_resume_without_checkpoint_fails_cleanly(run_cli, pairs_file, tmp_path) -> None:
    result = run_cli("train", pairs_file, "--model", "seq:minilm", "--out", tmp_path / "rm",
                     "--max-length", "32", "--batch-size", "4", "--resume")
    assert_clean_error(result, "--resume found no checkpoint", "rm.checkpoints")
    assert not (tmp_path / "rm").exists()


def test_too_small_data_and_resume_on_embed_fail_cleanly(run_cli, pairs_file, tmp_path
                                                         ) -> None:
    result = run_cli("train", pairs_file, "--model", "seq:minilm", "--out", tmp_path / "rm",
                     "--batch-size", "64")
    assert_clean_error(result, "12 pairs, fewer than one batch (64)")
    result = run_cli("train", pairs_file, "--out", tmp_path / "rm", "--resume")
    assert_clean_error(result, "cannot --resume")
    assert not (tmp_path / "rm").exists()


@pytest.mark.parametrize(("model", "flags", "said"), [
    ("personal:embed:minilm", ["--soft-labels"], "--soft-labels does not apply"),
    ("embed:minilm", ["--lora", "4"], "--lora does not apply"),
    ("personal:embed:minilm", ["--loss", "hinge", "--center-coef", "0.1"],
     "--center-coef, --loss do not apply"),
])
def test_a_train_option_the_model_lacks_is_named_as_given(run_cli, pairs_file, tmp_path,
                                                         model, flags, said) -> None:
    result = run_cli("train", pairs_file, "--model", model, *flags, "--out", tmp_path / "rm")
    assert_clean_error(result, said)
    assert "clone()" not in result.err and not (tmp_path / "rm").exists()


def test_non_numeric_margin_names_file_line_and_field(run_cli, tmp_path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b",
                                "margin": "lots"}) + "\n")
    result = run_cli("train", path, "--model", "seq:minilm", "--out", tmp_path / "rm",
                     "--loss", "margin")
    assert_clean_error(result, "m.jsonl:1", "field 'margin'", "must be a number")


@pytest.mark.parametrize(("model", "option", "says"), [
    ("embed:minilm", ("--lora", "4"), "--lora does not apply to model 'embed:minilm'"),
    ("embed:minilm", ("--device", "cpu"), "--device does not apply to model 'embed:minilm'"),
    ("verify:math", ("--epochs", "2"), "model 'verify:math' cannot train: it is not "
                                       "Trainable"),
])
def test_an_option_the_model_lacks_is_named_as_given(run_cli, pairs_file, tmp_path, model,
                                                      option, says) -> None:
    """Not as ``clone() got the option 'lora'``."""
    result = run_cli("train", pairs_file, "--model", model, *option, "--out", tmp_path / "rm")
    assert_clean_error(result, says)
    assert not (tmp_path / "rm").exists()


def test_ensemble_spec_with_unknown_member_fails_cleanly(run_cli, pairs_file) -> None:
    result = run_cli("eval", "ensemble:embed:minilm,nope:x", pairs_file)
    assert_clean_error(result, "ensemble member 'nope:x'", "unknown model kind")


def test_ensemble_and_noise_options_train_and_report(run_cli, pairs_file, tmp_path) -> None:
    result = run_cli("train", pairs_file, "--out", tmp_path / "ens", "--ensemble", "3",
                     "--epochs", "5", "--inject-noise", "0.25", "--noise-robust",
                     "--noise-rate", "0.25")
    assert result.code == 0, result.err
    assert "--inject-noise flipped 3 training pairs" in result.out
    assert "--noise-robust (co-filtering) dropped 3 of 12 pairs" in result.out
    manifest = json.loads((tmp_path / "ens" / "rewardlab.json").read_text())
    assert manifest["kind"] == "ensemble" and len(manifest["state"]["members"]) == 3


def test_noise_robust_embed_training_cross_validates_a_noise_aware_fit(
        run_cli, pairs_file, tmp_path) -> None:
    result = run_cli("train", pairs_file, "--out", tmp_path / "rm", "--epochs", "4",
                     "--noise-robust", "--noise-rate", "0.3")
    assert result.code == 0, result.err
    text = " ".join(result.out.split())  # rich wraps long lines
    match = re.search(r"--noise-robust \(noise-aware likelihood\) down-weighted (\d+) of 12 "
                      r"pairs \(posterior flip probability > 0.5\); trained ([1-4]) epoch\(s\), "
                      r"chosen by 5-fold cross-validation", text)
    assert match, result.out


def test_noise_robust_embed_training_refuses_an_impossible_noise_rate(
        run_cli, pairs_file, tmp_path) -> None:
    result = run_cli("train", pairs_file, "--out", tmp_path / "rm", "--noise-robust",
                     "--noise-rate", "0.6")
    assert_clean_error(result, "noise rate must be in (0, 0.5)")
    assert not (tmp_path / "rm").exists()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from tiny_models import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


@pytest.fixture
def tiny_seq(tiny_dir):
    """``seq:`` on a tiny random BERT (milliseconds per step), trained on one thread."""
    from tiny_models import one_thread

    with one_thread():
        yield f"seq:{tiny_dir}"


def test_unusable_out_fails_before_training(run_cli, pairs_file, tmp_path, tiny_seq,
                                            monkeypatch) -> None:
    from rewardlab.models.seq import SequenceRewardModel

    def no_training(*args, **kwargs):
        raise AssertionError("training started before --out was checked")

    monkeypatch.setattr(SequenceRewardModel, "fit", no_training)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    options = ("--model", tiny_seq, "--max-length", "32", "--batch-size", "4",
               "--checkpoint-every", "1")
    result = run_cli("train", pairs_file, "--out", busy, *options)
    assert_clean_error(result, f"refusing to write a model into {busy}", "not a saved rewardlab")
    assert (busy / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "busy.checkpoints").exists()
    file = tmp_path / "file"
    file.write_text("mine")
    result = run_cli("train", pairs_file, "--out", file, *options)
    assert_clean_error(result, f"cannot write a model to {file}: it is a file")
    assert file.read_text() == "mine" and not (tmp_path / "file.checkpoints").exists()


def test_an_earlier_runs_checkpoint_is_resumed_only_by_the_same_run(run_cli, pairs_file,
                                                                    tmp_path, tiny_seq) -> None:
    from rewardlab import load_data, resolve

    out, checkpoints = tmp_path / "rm", tmp_path / "rm.checkpoints"
    options = ("--model", tiny_seq, "--max-length", "32", "--batch-size", "4", "--epochs", "2",
               "--checkpoint-every", "1")
    # the checkpoint an interrupted `train ... --out rm` leaves behind
    resolve(f"{tiny_seq}?max_length=32&batch_size=4&epochs=2&checkpoint_every=1").fit(
        load_data(pairs_file), checkpoint_dir=checkpoints)
    state = (checkpoints / "trainer_state.json").read_bytes()

    result = run_cli("train", pairs_file, "--out", out, *options)
    assert_clean_error(result, f"{checkpoints} holds a checkpoint of an earlier run: pass "
                       "--resume to continue it, or delete it")
    result = run_cli("train", pairs_file, "--out", out, *options, "--resume", "--lr", "0.01")
    assert_clean_error(result, "belongs to a different run", "lr: was 0.0001, now 0.01",
                       f"delete {checkpoints} to start over")
    assert (checkpoints / "trainer_state.json").read_bytes() == state and not out.exists()

    result = run_cli("train", pairs_file, "--out", out, *options, "--resume")
    assert result.code == 0, result.err
    assert (out / "rewardlab.json").is_file() and not checkpoints.exists()

    weights = out / "model.safetensors"  # a truncated copy of the saved model
    weights.write_bytes(weights.read_bytes()[:4096])
    result = run_cli("eval", out, pairs_file)
    assert_clean_error(result, f"{weights} is corrupt")
