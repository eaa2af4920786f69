"""Fixtures for Monte-Carlo rollout tests: the default GGUF policy in-process, and a scripted
OpenAI-compatible server on loopback for failure cases (the real llama.cpp server is the
session fixture ``llama_server`` in tests/conftest.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import pytest

from rewardlab.label import LlamaCppPolicy


@pytest.fixture(scope="session")
def default_gguf_path():
    pytest.importorskip("llama_cpp")
    from rewardlab.llm import default_gguf

    return default_gguf()


@pytest.fixture(scope="session")
def local_policy(default_gguf_path) -> Iterator[LlamaCppPolicy]:
    policy = LlamaCppPolicy(default_gguf_path, spec="policy:default")
    yield policy
    policy.close()


class ScriptedServer:
    """A real HTTP server on loopback that answers like an OpenAI-compatible one, following
    a script: ``replies`` is consumed one entry per completion request with ``max_tokens >
    1`` (``"429"``, ``"sleep"`` or the text of every choice); the one-token readiness probe
    is always answered at once."""

    def __init__(self, replies: list[str]) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.replies, self.requests = list(replies), []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, {"data": [{"id": "scripted"}]})

            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                script.requests.append(payload)
                if payload["max_tokens"] == 1:
                    self._send(200, {"choices": [{"index": 0, "text": "OK"}]})
                    return
                reply = script.replies.pop(0) if script.replies else "#### 0"
                if reply == "429":
                    self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
                elif reply == "sleep":
                    time.sleep(3)
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self._send(200, {"choices": [{"index": 0, "text": "late"}]})
                else:
                    self._send(200, {"choices": [{"index": 0, "text": reply}]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted_server() -> Iterator[Callable[[list[str]], ScriptedServer]]:
    made: list[ScriptedServer] = []

    def make(replies: list[str]) -> ScriptedServer:
        server = ScriptedServer(replies)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()
