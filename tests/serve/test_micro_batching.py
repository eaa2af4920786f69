"""Micro-batching: concurrent requests to a real server share model calls, and every client
gets exactly the rewards the model gives offline."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

from _tolerance import FP32
from rewardlab.serve import BackgroundServer, ServeConfig, create_app


def test_sixteen_concurrent_clients_share_model_calls(serve_rm, hh_items, hh_text,
                                                      metric) -> None:
    prompts, replies = hh_items
    texts = [hh_text(p) for p in prompts]
    # client i sends 1 or 2 queries (items i and i+1 mod 16)
    requests = [[i] if i % 2 else [i, (i + 1) % 16] for i in range(16)]
    # the call fires once all 24 items are queued (or after 1 s, whatever comes first)
    app = create_app(serve_rm, ServeConfig(max_batch=24, max_wait_ms=1000))

    async def client(c: httpx.AsyncClient, idx: list[int]) -> list[float]:
        body = {"query": [texts[i] + " " + replies[i] for i in idx],
                "prompts": [texts[i] for i in idx]}
        response = await c.post("/get_reward", json=body)
        response.raise_for_status()
        return response.json()["rewards"]

    async def main(url: str) -> list[list[float]]:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
            await c.get("/health")
            return await asyncio.gather(*(client(c, idx) for idx in requests))

    with BackgroundServer(app) as server:
        results = asyncio.run(main(server.url))
        text = httpx.get(server.url + "/metrics").text
    calls = metric(text, "rewardlab_batch_items_count")
    items = metric(text, "rewardlab_batch_items_sum")
    n_items = sum(len(idx) for idx in requests)
    assert items == n_items == 24
    assert calls < 16, f"{calls} model calls for 16 concurrent requests: nothing was merged"
    assert items / calls > 1
    assert metric(text, 'rewardlab_batch_items_bucket{le="1"}') < calls or calls == 1
    offline = serve_rm.score(prompts, replies)
    for idx, got in zip(requests, results, strict=True):
        np.testing.assert_allclose(got, offline[idx], **FP32)


def test_batching_off_scores_one_item_per_call(flaky, metric) -> None:
    model = flaky()
    app = create_app(model, ServeConfig(max_batch=1, max_wait_ms=50), warm_up=False)

    async def main(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            return await asyncio.gather(*(c.post("/get_reward", json={"query": ["ab", "abc"]})
                                          for _ in range(4)))

    with BackgroundServer(app) as server:
        responses = asyncio.run(main(server.url))
    assert all(r.json()["rewards"] == [2.0, 3.0] for r in responses)
    assert model.calls == [1] * 8
