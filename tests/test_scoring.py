"""``iter_scored_rows``: a generative judge asks each pair in the same order however the data
is cut (chunks, Ray shards), because the order follows the pair's position in its data set."""

from __future__ import annotations

import numpy as np

from rewardlab.data import Dataset, PairRecord
from rewardlab.judge import PairJudgment, Verdict
from rewardlab.scoring import iter_scored_rows


class FirstSlotJudge:
    """Always prefers whatever it is shown first: its reward for the chosen reply says which
    order the pair was asked in."""

    compares_pairs = True

    def score(self, prompts, responses):  # the RewardModel protocol; not used here
        return np.zeros(len(responses))

    def compare(self, prompts, a, b, *, swap=False):
        return np.ones(len(a))

    def judge_pairs(self, prompts, a, b, *, swap=None):
        return [PairJudgment(p=1.0, forward=Verdict(value=1.0)) for _ in a]


def _pairs(n: int) -> Dataset[PairRecord]:
    records = tuple(PairRecord(prompt=f"q{i}", chosen=f"good {i}", rejected=f"bad {i}", id=i)
                    for i in range(n))
    return Dataset(task="pairwise", records=records, source="mem", form="")


def test_order_follows_the_position_not_the_chunk() -> None:
    data = _pairs(11)
    whole = [row["chosen_shown_first"] for row in iter_scored_rows(FirstSlotJudge(), data)]
    assert whole == [i % 2 == 0 for i in range(11)]
    chunked = [row["chosen_shown_first"]
               for row in iter_scored_rows(FirstSlotJudge(), data, chunk_size=3)]
    assert chunked == whole
    # a shard starting at row 5 (odd) continues the file's alternation
    shard = Dataset(task="pairwise", records=data.records[5:], source="mem", form="")
    tail = list(iter_scored_rows(FirstSlotJudge(), shard, chunk_size=4, first_index=5))
    assert [row["chosen_shown_first"] for row in tail] == whole[5:]
    assert [row["reward_chosen"] for row in tail] == [float(f) for f in whole[5:]]
