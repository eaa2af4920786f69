"""Best-of-4 on held-out GSM8K problems: the verifier, an ``embed:`` ORM, random and majority.

The 819 bundled GSM8K test problems, each with four real model solutions labelled
``is_correct``, are split by problem (``split_by_prompt``, 25% held out, seed 0). On the
held-out problems:

- ``verify:math`` with the reference answer (should reach the oracle);
- ``embed:minilm`` outcome reward models trained on the other problems' solutions (every
  correct solution preferred to every incorrect one of the same problem). The head
  configuration is chosen on a validation split of the training problems, never on the
  held-out ones; the chosen one is retrained on all training problems and scored once;
- ``vote:`` with an ORM: the majority vote as a reward, ties broken by the ORM (its
  tie-break ORM is also chosen on the validation split), beside plain ``vote:``;
- the model-free pickers: oracle, random (expected), majority vote on extracted answers.

Embedding every solution, question and question+solution once costs ~4 minutes on 2 cores
(~65 ms of CPU per text); the cache (``$REWARDLAB_CACHE_DIR``) makes reruns take seconds.

    python benchmarks/gsm8k_best_of_n.py
"""

from __future__ import annotations

import argparse
import time

from _common import emit
from rewardlab import resolve
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.evaluate import evaluate_best_of_n
from rewardlab.models.vote import VoteRewardModel

#: Head configurations tried on the validation split (all read the same cached embeddings).
CANDIDATES = (
    "embed:minilm",
    "embed:minilm?head=linear",
    "embed:minilm?features=reply",
    "embed:minilm?features=joint",
    "embed:minilm?epochs=10",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="split seed")
    args = parser.parse_args()
    start = time.perf_counter()
    data = load_dataset("bundled:gsm8k_examples")
    train, test = split_by_prompt(data, test_fraction=0.25, seed=args.seed)
    fit, val = split_by_prompt(train, test_fraction=0.25, seed=args.seed + 1)

    verifier = evaluate_best_of_n(resolve("verify:math"), test).overall

    validation, validation_vote = {}, {}
    for spec in CANDIDATES:
        model = resolve(spec).fit(fit)
        validation[spec] = evaluate_best_of_n(model, val).overall.best_of_n_accuracy
        validation_vote[spec] = evaluate_best_of_n(VoteRewardModel(model),
                                                   val).overall.best_of_n_accuracy
        print(f"validation {spec}: best-of-4 {validation[spec]:.4f}, as vote: tie-break "
              f"{validation_vote[spec]:.4f}", flush=True)
    chosen = max(CANDIDATES, key=lambda s: validation[s])
    orm = resolve(chosen).fit(train)
    held_out = evaluate_best_of_n(orm, test).overall
    chosen_vote = max(CANDIDATES, key=lambda s: validation_vote[s])
    vote_orm = orm if chosen_vote == chosen else resolve(chosen_vote).fit(train)
    vote = evaluate_best_of_n(VoteRewardModel(vote_orm), test).overall
    plain_vote = evaluate_best_of_n(VoteRewardModel(), test).overall
    default = held_out if chosen == CANDIDATES[0] else evaluate_best_of_n(
        resolve(CANDIDATES[0]).fit(train), test).overall

    emit(
        "gsm8k_best_of_n",
        problems={"train": len(train), "test": len(test), "fit": len(fit), "val": len(val)},
        k=4,
        test={
            "oracle": held_out.oracle,
            "random": held_out.random,
            "majority": held_out.majority,
            "majority_ci95": held_out.majority_ci95,
            "verify_math": verifier.best_of_n_accuracy,
            "verify_math_pairwise": verifier.pairwise_accuracy,
            "orm_spec": chosen,
            "orm": held_out.best_of_n_accuracy,
            "orm_ci95": held_out.ci95,
            "orm_pairwise": held_out.pairwise_accuracy,
            "orm_pairwise_ci95": held_out.pairwise_ci95,
            "orm_minus_random": held_out.best_of_n_accuracy - held_out.random,
            "vote_orm_spec": chosen_vote,
            "vote_with_orm": vote.best_of_n_accuracy,
            "vote_with_orm_ci95": vote.ci95,
            "vote_with_orm_minus_random": vote.best_of_n_accuracy - vote.random,
            "vote_with_orm_pairwise": vote.pairwise_accuracy,
            "vote_alone": plain_vote.best_of_n_accuracy,
            "default_orm": default.best_of_n_accuracy,
            "default_orm_pairwise": default.pairwise_accuracy,
        },
        validation=validation,
        validation_vote=validation_vote,
        train_pairs=orm.n_train_pairs_,
        seconds=time.perf_counter() - start,
    )


if __name__ == "__main__":
    main()
