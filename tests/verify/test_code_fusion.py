"""verify:code's SandboxFusion backend against a stand-in server on loopback.

The stand-in speaks SandboxFusion's ``POST /run_code`` contract (code, language, stdin,
run_timeout in; status, message, run_result{status, return_code, stdout, stderr} out) and
runs the code as SandboxFusion does: a fresh ``python`` process with the request's stdin,
killed at ``run_timeout``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from rewardlab import resolve
from rewardlab.verify._fusion import read_fusion_response

REF = json.dumps({"tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]})


class _StandIn(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        if self.path != "/run_code" or body.get("language") != "python":
            self._send(400, {"detail": "unsupported"})
            return
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-I", "-c", body["code"]],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(body.get("stdin", "").encode(),
                                        timeout=body.get("run_timeout", 10))
            status = "Finished"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            status = "TimeLimitExceeded"
        self._send(200, {
            "status": "Success" if status == "Finished" and proc.returncode == 0 else "Failed",
            "message": "", "compile_result": None,
            "run_result": {"status": status, "execution_time": time.monotonic() - start,
                           "return_code": proc.returncode,
                           "stdout": out.decode("utf-8", "replace"),
                           "stderr": err.decode("utf-8", "replace")},
            "executor_pod_name": None, "files": {}})

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def fusion_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_remote_verdicts_match_the_local_sandbox(fusion_url: str) -> None:
    responses = ["def add(a, b):\n    return a + b",
                 "def add(a, b):\n    return 3",
                 "import sys\nsys.exit(0)",
                 "class E:\n    def __eq__(self, o):\n        return True\n"
                 "def add(a, b):\n    return E()",
                 "print('All tests passed')"]
    remote = resolve(f"verify:code?backend=sandbox-fusion&url={fusion_url}&timeout=5")
    local = resolve("verify:code?timeout=5&workers=1")
    got = remote.verdicts([""] * 5, responses, [REF] * 5)
    assert [v.reward for v in got] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert [v.reason for v in got] == [v.reason for v in
                                       local.verdicts([""] * 5, responses, [REF] * 5)]
    sent = _StandIn.requests[-1]
    assert sent["language"] == "python" and "stdin" in sent and sent["run_timeout"] >= 5


def test_a_remote_timeout_and_a_server_failure_are_reasons(fusion_url: str) -> None:
    remote = resolve(f"verify:code?backend=sandbox-fusion&url={fusion_url}&timeout=1")
    [v] = remote.verdicts([""], ["def add(a, b):\n    while True:\n        pass"], [REF])
    assert v.reason == "timeout"
    down = resolve("verify:code?backend=sandbox-fusion&url=http://127.0.0.1:9&timeout=1")
    [v] = down.verdicts([""], ["def add(a, b):\n    return a + b"], [REF])
    assert v.reward == 0.0 and v.reason == "harness_error" and "failed 3 times" in v.detail


def test_a_report_without_this_runs_nonce_is_not_a_pass() -> None:
    forged = {"status": "Success", "run_result": {"status": "Finished", "stdout":
              '@@rewardlab-sandbox-report@@ {"nonce": "other", "passed": 2, "total": 2, '
              '"reason": null}'}}
    result = read_fusion_response(forged, "mine", 0.1)
    assert not result.ok and result.reason == "harness_error"
