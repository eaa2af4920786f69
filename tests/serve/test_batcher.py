"""The micro-batcher alone, on an event loop without HTTP: how items are grouped into calls."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from rewardlab.errors import ConfigError
from rewardlab.serve import BatchScores, MicroBatcher, ServerClosedError, ServerMetrics


class Recorder:
    """Scores each response by its length and records every call's responses."""

    def __init__(self, fail_on: str | None = None, uncertainty: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail_on, self.uncertainty = fail_on, uncertainty

    def __call__(self, prompts: Sequence, responses: Sequence[str],
                 references: Sequence) -> BatchScores:
        self.calls.append(list(responses))
        if self.fail_on is not None and self.fail_on in responses:
            raise RuntimeError(f"cannot score {self.fail_on!r}")
        rewards = np.array([float(len(r)) for r in responses])
        return BatchScores(rewards, -rewards if self.uncertainty else None)


def run(coro):
    return asyncio.run(coro)


def submit(batcher: MicroBatcher, responses: list[str]):
    return batcher.submit(["p"] * len(responses), responses, [None] * len(responses))


def test_concurrent_requests_merge_into_one_call() -> None:
    scorer = Recorder()

    async def main():
        async with MicroBatcher(scorer, max_batch=64, max_wait_ms=50) as b:
            return await asyncio.gather(*(submit(b, ["x" * i] * (1 + i % 3)) for i in range(8)))

    results = run(main())
    assert len(scorer.calls) == 1 and len(scorer.calls[0]) == sum(1 + i % 3 for i in range(8))
    for i, out in enumerate(results):
        assert out.rewards.tolist() == [float(i)] * (1 + i % 3)


def test_big_requests_are_split_and_reassembled_in_order() -> None:
    scorer = Recorder(uncertainty=True)
    texts = ["a" * (i % 7) for i in range(23)]

    async def main():
        async with MicroBatcher(scorer, max_batch=5, max_wait_ms=1) as b:
            return await asyncio.gather(submit(b, texts), submit(b, ["zz"]))

    big, small = run(main())
    assert all(len(c) <= 5 for c in scorer.calls)
    assert sum(len(c) for c in scorer.calls) == 24
    assert big.rewards.tolist() == [float(len(t)) for t in texts]
    assert big.uncertainty.tolist() == [-float(len(t)) for t in texts]
    assert small.rewards.tolist() == [2.0]


def test_max_batch_one_is_one_item_per_call() -> None:
    scorer = Recorder()

    async def main():
        async with MicroBatcher(scorer, max_batch=1, max_wait_ms=20) as b:
            return await asyncio.gather(*(submit(b, ["a", "bb"]) for _ in range(3)))

    results = run(main())
    assert [len(c) for c in scorer.calls] == [1] * 6
    assert all(r.rewards.tolist() == [1.0, 2.0] for r in results)


def test_a_lone_request_waits_at_most_max_wait() -> None:
    scorer = Recorder()

    async def main() -> float:
        async with MicroBatcher(scorer, max_batch=1000, max_wait_ms=30) as b:
            loop = asyncio.get_running_loop()
            start = loop.time()
            await submit(b, ["a"])
            return loop.time() - start

    assert 0.02 <= run(main()) < 1.0


def test_failure_is_isolated_to_its_request() -> None:
    scorer = Recorder(fail_on="bad")
    metrics = ServerMetrics(())

    async def main():
        async with MicroBatcher(scorer, max_batch=64, max_wait_ms=50, metrics=metrics) as b:
            return await asyncio.gather(submit(b, ["a"]), submit(b, ["bad", "b"]),
                                        submit(b, ["cc"]), return_exceptions=True)

    good, broken, other = run(main())
    assert good.rewards.tolist() == [1.0] and other.rewards.tolist() == [2.0]
    assert isinstance(broken, RuntimeError) and "bad" in str(broken)
    assert len(scorer.calls[0]) == 4  # one merged call, then one per request
    assert metrics.batch_failures == 2 and metrics.batch_items.count == 4


def test_cancelled_requests_are_skipped() -> None:
    scorer = Recorder()

    async def main():
        async with MicroBatcher(scorer, max_batch=64, max_wait_ms=50) as b:
            gone = asyncio.ensure_future(submit(b, ["gone"]))
            kept = asyncio.ensure_future(submit(b, ["kept"]))
            await asyncio.sleep(0)
            gone.cancel()
            return await kept

    assert run(main()).rewards.tolist() == [4.0]
    assert scorer.calls == [["kept"]]


def test_stop_fails_what_is_still_queued() -> None:
    async def main():
        b = MicroBatcher(Recorder(), max_batch=100, max_wait_ms=10_000)
        await b.start()
        pending = asyncio.ensure_future(submit(b, ["a"]))
        await asyncio.sleep(0.01)
        assert b.queued_items == 1
        await b.stop()
        with pytest.raises(ServerClosedError):
            await pending
        with pytest.raises(ServerClosedError):
            await submit(b, ["b"])

    run(main())


def test_empty_request_needs_no_call() -> None:
    scorer = Recorder()

    async def main():
        async with MicroBatcher(scorer) as b:
            return await submit(b, [])

    assert run(main()).rewards.shape == (0,) and scorer.calls == []


@pytest.mark.parametrize(("kwargs", "name"), [({"max_batch": 0}, "max_batch"),
                                              ({"max_wait_ms": -1}, "max_wait_ms")])
def test_bad_settings(kwargs, name) -> None:
    with pytest.raises(ConfigError, match=f"The '{name}' parameter of MicroBatcher"):
        MicroBatcher(Recorder(), **kwargs)


def test_whole_requests_are_neither_merged_nor_split() -> None:
    scorer = Recorder()

    async def main():
        async with MicroBatcher(scorer, max_batch=2, max_wait_ms=20,
                                whole_requests=True) as b:
            return await asyncio.gather(submit(b, ["a", "bb", "ccc"]), submit(b, ["d"]))

    big, small = run(main())
    assert sorted(map(len, scorer.calls)) == [1, 3]  # past max_batch, but in one call
    assert big.rewards.tolist() == [1.0, 2.0, 3.0] and small.rewards.tolist() == [1.0]
