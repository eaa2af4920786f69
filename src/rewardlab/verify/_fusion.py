"""A remote backend: run programs on a SandboxFusion server (the sandbox verl's code rewards
call), for clusters where the trainer's machines should not run model code.

SandboxFusion's ``POST /run_code`` takes ``{"code", "language", "stdin", "run_timeout",
"compile_timeout", "memory_limit_MB", "files"}`` and answers ``{"status": "Success" |
"Failed" | "SandboxError", "message", "run_result": {"status": "Finished" |
"TimeLimitExceeded" | ..., "return_code", "stdout", "stderr", "execution_time"}}``.

What runs there is not the bare program: it is ``_runner.py`` + ``_harness.py`` as one
program, in one-shot mode, with the job (program, tests, nonce) as its stdin. So the remote
run keeps the local defence (the tests run in a process apart from the program, which is
forked before the job is read) and the verdict is the harness's marked report line carrying
this run's nonce, never the exit status. A server error is reported as ``harness_error``
with the server's message; nothing raises for one program.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from rewardlab.verify._runner import REPORT_MARK
from rewardlab.verify._sandbox import Limits, SandboxResult

__all__ = ["fusion_request", "read_fusion_response", "run_fusion"]

_HERE = Path(__file__).parent
#: One program: the runner's side, then the harness, whose entry point is the one-shot run.
_ONESHOT = (_HERE / "_runner.py").read_text(encoding="utf-8") + "\n\n" + (
    _HERE / "_harness.py").read_text(encoding="utf-8").replace(
        'if __name__ == "__main__":\n    main()', 'if __name__ == "__main__":\n    oneshot()')
_RETRIES = 3


def fusion_request(job: dict[str, Any], limits: Limits, nonce: str) -> dict[str, Any]:
    """The ``/run_code`` body that runs ``job`` under ``limits`` on SandboxFusion."""
    full = {**job, "nonce": nonce, "timeout": limits.timeout, "limits": limits.to_job()}
    return {"code": _ONESHOT, "language": "python", "stdin": json.dumps(full),
            "compile_timeout": 10, "run_timeout": limits.timeout + 5,
            "memory_limit_MB": -1, "files": {}}


def read_fusion_response(body: Any, nonce: str, seconds: float) -> SandboxResult:
    """A SandboxFusion answer as a ``SandboxResult``: the harness's report carrying
    ``nonce``, or why there is none."""
    if not isinstance(body, dict):
        return SandboxResult(0, 1, "harness_error", "the sandbox server sent no JSON object",
                             seconds)
    run = body.get("run_result") if isinstance(body.get("run_result"), dict) else {}
    stdout = run.get("stdout") if isinstance(run.get("stdout"), str) else ""
    for line in reversed(stdout.splitlines()):
        if line.startswith(REPORT_MARK):
            try:
                out = json.loads(line[len(REPORT_MARK):])
            except ValueError:
                break
            if not isinstance(out, dict) or out.get("nonce") != nonce:
                break
            return SandboxResult(
                passed=int(out["passed"]), total=int(out["total"]), reason=out["reason"],
                detail=str(out.get("detail") or ""), seconds=seconds,
                forbidden=tuple(out.get("forbidden") or ()),
                network_namespace=bool(out.get("network_namespace")))
    if run.get("status") == "TimeLimitExceeded":
        return SandboxResult(0, 1, "timeout", "the sandbox server's time limit", seconds)
    message = body.get("message") or run.get("stderr") or body.get("status")
    return SandboxResult(0, 1, "harness_error", f"no report from the sandbox server "
                         f"({body.get('status')}): {str(message)[-300:]}", seconds)


def _one(client: httpx.Client, url: str, job: dict[str, Any], limits: Limits
         ) -> SandboxResult:
    nonce = secrets.token_hex(16)
    start = time.monotonic()
    error = ""
    for attempt in range(_RETRIES):
        try:
            answer = client.post(url, json=fusion_request(job, limits, nonce))
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2 * 2 ** attempt)
            continue
        if answer.status_code >= 500:
            error = f"HTTP {answer.status_code}"
            time.sleep(0.2 * 2 ** attempt)
            continue
        if answer.status_code != 200:
            return SandboxResult(0, 1, "harness_error", f"the sandbox server answered HTTP "
                                 f"{answer.status_code}: {answer.text[:200]}",
                                 time.monotonic() - start)
        try:
            body = answer.json()
        except ValueError:
            body = None
        return read_fusion_response(body, nonce, time.monotonic() - start)
    return SandboxResult(0, 1, "harness_error", f"the sandbox server at {url} failed "
                         f"{_RETRIES} times: {error}", time.monotonic() - start)


def run_fusion(url: str, jobs: Sequence[dict[str, Any]], limits: Limits, *,
               workers: int = 4) -> list[SandboxResult]:
    """Run every job on the SandboxFusion server at ``url`` (``workers`` requests at a
    time); results in the order of ``jobs``."""
    endpoint = url.rstrip("/") + "/run_code"
    timeout = httpx.Timeout(limits.timeout + 30, connect=10)
    with httpx.Client(timeout=timeout) as client, ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: _one(client, endpoint, job, limits), jobs))
