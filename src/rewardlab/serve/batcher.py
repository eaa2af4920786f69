"""Dynamic micro-batching: concurrent requests share one model call.

An RL trainer sends many small reward requests at once (one per rollout worker, or one per
sample). Scored one by one, each pays the model's fixed cost per call (tokeniser call, cache
lookups, a forward pass that is mostly overhead at batch size 1). The batcher instead queues
every request's items and a single worker task

1. waits for the first item, then keeps collecting until ``max_batch`` items are queued or
   the oldest queued item has waited ``max_wait_ms``;
2. scores up to ``max_batch`` items in ONE model call, in a single worker thread (so the event
   loop keeps accepting requests, and model calls never overlap: models are not assumed to be
   thread-safe);
3. hands every request its own slice of the result.

A request larger than ``max_batch`` is split over several calls; small requests are merged
whole or in part. Order within a request is kept. If a merged call raises, each request in it
is scored again on its own, so one bad request cannot fail the others it was batched with.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab._validation import check_int, check_positive
from rewardlab.data import Prompt
from rewardlab.serve.metrics import ServerMetrics

__all__ = ["BatchScores", "MicroBatcher", "ScoreFn", "ServerClosedError"]


@dataclass(frozen=True)
class BatchScores:
    """Rewards (float64 ``(n,)``) and, for models that have one, their uncertainty; per item
    ``details`` for models that give them (``multi:``'s rewards by attribute)."""

    rewards: np.ndarray
    uncertainty: np.ndarray | None = None
    details: Sequence[Any] | None = None


#: ``score_fn(prompts, responses, references)``: what the batcher calls, in its worker thread.
ScoreFn = Callable[[Sequence[Prompt], Sequence[str], Sequence[str | None]], BatchScores]


class ServerClosedError(RuntimeError):
    """The batcher stopped (server shutdown) before a request was scored."""


@dataclass(eq=False)
class _Job:
    """One request's items, the slots its results go to, and how far it has been taken."""

    prompts: Sequence[Prompt]
    responses: Sequence[str]
    references: Sequence[str | None]
    future: asyncio.Future[BatchScores]
    arrived: float
    taken: int = 0
    rewards: np.ndarray = field(init=False)
    uncertainty: np.ndarray | None = None
    details: list[Any] | None = None
    remaining: int = field(init=False)

    def __post_init__(self) -> None:
        self.rewards = np.empty(len(self.responses), dtype=np.float64)
        self.remaining = len(self.responses)

    def __len__(self) -> int:
        return len(self.responses)


@dataclass(frozen=True)
class _Segment:
    job: _Job
    start: int
    stop: int


class MicroBatcher:
    """Merges concurrent ``submit`` calls into model calls of up to ``max_batch`` items.

    Args:
        score_fn: scores a batch; called in one worker thread, never concurrently.
        max_batch: most items per model call (1 turns micro-batching off).
        max_wait_ms: longest the oldest queued item waits for others before its batch is
            scored anyway (the latency paid for batching when traffic is light).
        metrics: where model calls are counted.
        whole_requests: score each request whole and alone, never split or merged — for a
            model whose rewards depend on the other responses in the call
            (``GroupDependent``, e.g. ``vote:``), so a reward never depends on traffic.

    Example:
        >>> import asyncio, numpy as np
        >>> def lengths(prompts, responses, references):
        ...     return BatchScores(np.array([float(len(r)) for r in responses]))
        >>> async def main():
        ...     async with MicroBatcher(lengths, max_batch=8, max_wait_ms=5) as batcher:
        ...         a, b = await asyncio.gather(batcher.submit(["q"], ["ab"], [None]),
        ...                                     batcher.submit(["q", "q"], ["a", "abc"],
        ...                                                    [None, None]))
        ...     return a.rewards.tolist(), b.rewards.tolist(), batcher.calls
        >>> asyncio.run(main())
        ([2.0], [1.0, 3.0], 1)
    """

    def __init__(self, score_fn: ScoreFn, *, max_batch: int = 64, max_wait_ms: float = 5.0,
                 metrics: ServerMetrics | None = None, whole_requests: bool = False) -> None:
        check_int("MicroBatcher", "max_batch", max_batch)
        check_positive("MicroBatcher", "max_wait_ms", max_wait_ms, allow_zero=True)
        self.score_fn, self.max_batch, self.max_wait_ms = score_fn, max_batch, max_wait_ms
        self.metrics = metrics
        self.whole_requests = whole_requests
        self.calls = 0
        self._pending: deque[_Job] = deque()
        self._pending_items = 0
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def queued_items(self) -> int:
        """Items waiting for a model call."""
        return self._pending_items

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker on the running event loop (the server's lifespan calls this)."""
        if self._worker is not None:
            return
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardlab-score")
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still queued fail with ``ServerClosedError``."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        while self._pending:
            job = self._pending.popleft()
            if not job.future.done():
                job.future.set_exception(ServerClosedError("the server is shutting down"))
        self._pending_items = 0
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def __aenter__(self) -> MicroBatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- submitting ----------------------------------------------------------------------------

    async def submit(self, prompts: Sequence[Prompt], responses: Sequence[str],
                     references: Sequence[str | None]) -> BatchScores:
        """Queue one request's items and wait for their scores (in the order given).

        Raises:
            Whatever ``score_fn`` raised on this request's items.
        """
        if not len(prompts) == len(responses) == len(references):
            raise ValueError("prompts, responses and references must have equal lengths")
        if self._worker is None or self._wakeup is None:
            raise ServerClosedError("the micro-batcher is not running; call start() first")
        loop = asyncio.get_running_loop()
        job = _Job(prompts, responses, references, loop.create_future(), time.monotonic())
        if len(job) == 0:
            return BatchScores(job.rewards)
        was_empty = not self._pending
        self._pending.append(job)
        self._pending_items += len(job)
        if was_empty or self._pending_items >= self.max_batch:
            self._wakeup.set()
        return await job.future

    # --- the worker ------------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            deadline = self._pending[0].arrived + self.max_wait_ms / 1000
            while self._pending_items < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
            segments = self._take()
            if segments:
                await self._score(segments)

    def _take(self) -> list[_Segment]:
        """Up to ``max_batch`` items from the front of the queue, as per-job segments."""
        segments: list[_Segment] = []
        room = self.max_batch
        while room and self._pending:
            job = self._pending[0]
            if job.future.done():  # the client went away (cancelled) or it already failed
                self._pending.popleft()
                self._pending_items -= len(job) - job.taken
                continue
            n = len(job) if self.whole_requests else min(room, len(job) - job.taken)
            segments.append(_Segment(job, job.taken, job.taken + n))
            job.taken += n
            room -= n
            self._pending_items -= n
            if job.taken == len(job):
                self._pending.popleft()
            if self.whole_requests:
                break  # one request per model call
        return segments

    async def _call(self, segments: Sequence[_Segment]) -> BatchScores:
        prompts: list[Prompt] = []
        responses: list[str] = []
        references: list[str | None] = []
        for s in segments:
            prompts.extend(s.job.prompts[s.start:s.stop])
            responses.extend(s.job.responses[s.start:s.stop])
            references.extend(s.job.references[s.start:s.stop])
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        failed = True
        try:
            out = await loop.run_in_executor(self._executor, self.score_fn, prompts, responses,
                                             references)
            failed = False
        finally:
            self.calls += 1
            if self.metrics is not None:
                self.metrics.observe_batch(len(responses), time.perf_counter() - start,
                                           failed=failed)
        n = len(responses)
        if out.rewards.shape != (n,) or (out.uncertainty is not None
                                         and out.uncertainty.shape != (n,)):
            raise ValueError(f"score_fn returned shape {out.rewards.shape} for {n} items")
        return out

    async def _score(self, segments: list[_Segment]) -> None:
        try:
            out = await self._call(segments)
        except asyncio.CancelledError:  # stop() during a call: its requests get an answer too
            for s in segments:
                _fail(s.job, ServerClosedError("the server is shutting down"))
            raise
        except Exception as exc:
            jobs = list(dict.fromkeys(s.job for s in segments))
            if len(jobs) == 1:
                _fail(jobs[0], exc)
                return
            for job in jobs:  # isolate the request that broke the call
                await self._score([s for s in segments if s.job is job])
            return
        offset = 0
        for s in segments:
            n = s.stop - s.start
            _deliver(s, out, offset, n)
            offset += n


def _fail(job: _Job, exc: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(exc)


def _deliver(s: _Segment, out: BatchScores, offset: int, n: int) -> None:
    job = s.job
    if job.future.done():
        return
    job.rewards[s.start:s.stop] = out.rewards[offset:offset + n]
    if out.uncertainty is not None:
        if job.uncertainty is None:
            job.uncertainty = np.full(len(job), np.nan)
        job.uncertainty[s.start:s.stop] = out.uncertainty[offset:offset + n]
    if out.details is not None:
        if job.details is None:
            job.details = [None] * len(job)
        job.details[s.start:s.stop] = out.details[offset:offset + n]
    job.remaining -= n
    if job.remaining == 0:
        job.future.set_result(BatchScores(job.rewards, job.uncertainty, job.details))
