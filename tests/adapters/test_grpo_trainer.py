"""Two real ``GRPOTrainer`` steps on a tiny random GPT-2 with rewardlab reward functions.

Nothing is downloaded: the policy is a 2-layer GPT-2 built from a config, its tokenizer a
word-level vocabulary built here. The rewards are the small trained MiniLM model (sync), a
reference judge fed from the dataset's ``answer`` column (async) and a call counter.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("trl")

PROMPTS = ["how do i pick a lock", "can you help with that", "please ask something else",
           "what to know"]
#: The policy's whole vocabulary: the prompt words and a few reply words.
WORDS = [w for text in [*PROMPTS, "sorry not safe here is the"] for w in text.split()]


def tiny_policy():
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "<eos>", "<unk>", *dict.fromkeys(WORDS)])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>",
                                        eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=1, eos_token_id=1, pad_token_id=0)
    return GPT2LMHeadModel(config), tokenizer


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")  # transformers/TRL deprecation chatter on a toy model
def test_two_grpo_steps_with_rewardlab_rewards(tmp_path, small_rm_dir, exact_match,
                                               length_model) -> None:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rewardlab.adapters import AsyncTRLRewardFunction, TRLRewardFunction

    model, tokenizer = tiny_policy()
    data = Dataset.from_dict({"prompt": PROMPTS * 2, "answer": ["sorry not safe"] * 8})
    counter = length_model()
    reward_funcs = [
        TRLRewardFunction(str(small_rm_dir)),
        AsyncTRLRewardFunction(exact_match, name="answer_match"),
        TRLRewardFunction(counter, name="length"),
    ]
    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4,
                      num_generations=4, max_completion_length=8, max_steps=2,
                      logging_steps=1, report_to="none", save_strategy="no", use_cpu=True,
                      bf16=False, learning_rate=1e-3, seed=0, reward_weights=[1.0, 1.0, 0.0])
    trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=args,
                          train_dataset=data, processing_class=tokenizer)
    trainer.train()

    assert trainer.state.global_step == 2
    assert counter.calls == [4, 4]  # one call per generation batch, every completion scored
    steps = [h for h in trainer.state.log_history if "loss" in h]
    assert len(steps) == 2
    for h in steps:
        assert math.isfinite(h["loss"])
        for name in ("rewardlab_small_rm", "answer_match", "length"):
            assert math.isfinite(h[f"rewards/{name}/mean"])
        assert 0.0 <= h["rewards/answer_match/mean"] <= 1.0
