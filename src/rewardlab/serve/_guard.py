"""The reward server's outermost layer: pure ASGI, so it runs before FastAPI reads a body.

It times and counts every request for ``GET /metrics`` and refuses bodies over the server's
limit with 413 before anything parses them: the Content-Length header is checked first, then
the bytes actually sent (a chunked body has no Content-Length).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rewardlab.serve.metrics import ServerMetrics

__all__ = ["BodyLimitAndMetrics"]

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]


class BodyLimitAndMetrics:
    """Times and counts every request, and refuses bodies over ``max_body_bytes`` with 413
    before they are parsed (checking Content-Length first, then the bytes actually sent)."""

    def __init__(self, app: Callable[..., Awaitable[None]], *, max_body_bytes: int,
                 metrics: ServerMetrics) -> None:
        self.app, self.max_body_bytes, self.metrics = app, max_body_bytes, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: ASGIMessage) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            if scope.get("method") in ("POST", "PUT", "PATCH"):
                replay = await self._read_body(scope, receive, send_and_record)
                if replay is None:
                    return
                receive = replay
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.observe_request(scope.get("path", ""), status,
                                         time.perf_counter() - start)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        limit = self.max_body_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_json(send, 400, "the Content-Length header is not a number")
                return None
            if size > limit:
                await _send_json(send, 413, _body_message(size, limit))
                return None
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await _send_json(send, 413, _body_message(total, limit, at_least=True))
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> ASGIMessage:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def _body_message(size: int, limit: int, *, at_least: bool = False) -> str:
    return (f"the request body is {'over ' if at_least else ''}{size} bytes; this server "
            f"accepts at most {limit} bytes (rewardlab serve --max-body-mb). Send fewer or "
            "shorter items per request")


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
