"""The code sandbox's harness process: runs tests against a program that runs in a child.

Started as ``python -I _harness.py`` by ``rewardlab.verify._sandbox`` and kept warm; it imports
nothing from the rewardlab package (``-I`` ignores PYTHONPATH, and an installed rewardlab
could be another version), only the standard library and its sibling ``_runner.py``, found
by path. The runner's side (limits, audit hook, ``_Runner``) lives there.

Two processes per program, and the split is the whole defence:

* the **harness** (this process, trusted) holds the tests and decides every verdict. It never
  runs the program's code. It is made non-dumpable, so a same-user process cannot ptrace it
  or open its file descriptors through /proc.
* the **runner** (a child forked from the harness *before* the job is read, so its memory
  holds no test, no expected value and no nonce) runs the program under resource limits,
  an audit hook and, where the kernel allows it, a fresh network namespace. It closes every
  descriptor except the two pipes to the harness before any program code runs.

The tests call the program's functions through proxies: arguments go to the runner, the
return value comes back with ``marshal`` and is accepted only if it is built from exact
builtin types (int, float, str, tuple, list, dict, ...). So whatever the program does to its
own interpreter (``sys.exit``, ``os._exit``, redefining ``assert``/``AssertionError``/builtins,
replacing ``check``, a trace function that skips lines, printing "all tests passed",
returning an object whose ``__eq__`` is always true), the asserts run here, on plain values.

Frames on every pipe are a 4-byte big-endian length and a payload: JSON between the pool and
the harness, ``marshal`` between harness and runner (validated on receipt here).
"""

import ast
import builtins
import contextlib
import importlib
import json
import marshal
import os
import signal
import sys
import time

_NAMES = ("REPORT_MARK", "_MEMORY_EXIT", "_OUTPUT_CAP", "_REF", "_die_with_parent",
          "_fork_runner", "_plain", "_prctl", "_read_frame", "_write_frame")
if __package__:  # imported as rewardlab.verify._harness (tests, tools)
    from rewardlab.verify._runner import (
        _MEMORY_EXIT,
        _OUTPUT_CAP,
        _REF,
        REPORT_MARK,
        _die_with_parent,
        _fork_runner,
        _plain,
        _prctl,
        _read_frame,
        _write_frame,
    )
elif "_fork_runner" not in globals():  # a script: its own folder is not on sys.path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    _runner = importlib.import_module("_runner")
    globals().update({name: getattr(_runner, name) for name in _NAMES})
# else: sent as one program after _runner.py's text (a remote sandbox, ``_fusion.py``)


# --- the harness's side ------------------------------------------------------------------


class _ChildGone(BaseException):
    """The runner ended or ran out of time: no test can continue (test code cannot catch it
    with ``except Exception``)."""


class _Opaque:
    """A value the program returned that is not plain data (a handle to it in the runner).

    It equals only itself, so no comparison with an expected value can succeed."""

    __slots__ = ("hid", "typename")

    def __init__(self, hid: int, typename: str) -> None:
        self.hid, self.typename = hid, typename

    def __repr__(self) -> str:
        return f"<{self.typename} object from the program>"


def _valid(value: object, depth: int = 0) -> bool:
    return _plain(value, depth)


class _Session:
    """One program: the runner's pipes, the deadline, and what the tests learnt."""

    def __init__(self, pid: int, wfd: int, rfd: int, deadline: float) -> None:
        self.pid, self.wfd, self.rfd, self.deadline = pid, wfd, rfd, deadline
        self.forbidden: list[str] = []
        self.gone: str | None = None  # "timeout", "memory", "exited"
        self.net = False

    def kill(self) -> None:
        for fn in (lambda: os.killpg(self.pid, signal.SIGKILL),
                   lambda: os.kill(self.pid, signal.SIGKILL)):
            with contextlib.suppress(OSError):
                fn()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def send(self, message: object) -> None:
        try:
            _write_frame(self.wfd, marshal.dumps(message))
        except OSError:
            self.gone = self.gone or "exited"
            raise _ChildGone(self.gone) from None

    def receive(self) -> tuple:
        try:
            frame = _read_frame(self.rfd, self.deadline)
        except TimeoutError:
            self.gone = "timeout"
            self.kill()
            raise _ChildGone("timeout") from None
        except (ValueError, OSError):
            frame = None
        if frame is None:
            self.gone = self.gone or "exited"
            raise _ChildGone(self.gone)
        try:
            reply = marshal.loads(frame)
        except (ValueError, EOFError, TypeError):
            reply = None
        if type(reply) is not tuple or not reply or not _valid(reply):
            self.forbidden.append("a malformed reply from the program's process")
            raise _ChildGone("exited")
        flags = (reply[-1] if reply[0] in ("ok", "ref", "error", "memory", "forbidden")
                 else reply[-2] if reply[0] in ("loaded", "loaded-error", "case", "done")
                 else ())
        if type(flags) is tuple:
            for f in flags:
                if isinstance(f, str) and f not in self.forbidden:
                    self.forbidden.append(f)
        return reply

    def result(self, reply: tuple) -> object:
        kind = reply[0]
        if kind == "ok":
            return reply[1]
        if kind == "ref":
            if reply[3]:
                note = f"returned an object whose class overrides {reply[3]}"
                if note not in self.forbidden:
                    self.forbidden.append(note)
            return _Opaque(reply[1], reply[2])
        if kind in ("error", "memory", "forbidden"):
            if kind == "memory":
                self.gone = self.gone or None
                raise MemoryError(reply[2])
            exc_type = getattr(builtins, str(reply[1]), None)
            if not (isinstance(exc_type, type) and issubclass(exc_type, Exception)):
                exc_type = RuntimeError
            try:
                exc = exc_type(str(reply[2]))
            except Exception:
                exc = RuntimeError(f"{reply[1]}: {reply[2]}")
            exc._rl_remote = kind  # type: ignore[attr-defined]
            raise exc
        raise _ChildGone("exited")

    def encode(self, value: object, depth: int = 0) -> object:
        t = type(value)
        if t is _Opaque:
            return (_REF, value.hid)  # type: ignore[attr-defined]
        if t in (list, tuple) and depth < 60:
            return t(self.encode(v, depth + 1) for v in value)  # type: ignore[attr-defined]
        if t is dict and depth < 60:
            return {k: self.encode(v, depth + 1) for k, v in value.items()}  # type: ignore[attr-defined]
        if _plain(value):
            return value
        raise TypeError(f"the harness cannot pass a {t.__name__} to the program "
                        "(only plain data crosses to the sandbox)")

    def call(self, op: str, target: object, args: tuple, kwargs: dict) -> object:
        message = (op, target, self.encode(args), self.encode(kwargs))
        self.send(message)
        return self.result(self.receive())

    def proxy(self, name: str):
        def remote(*args, **kwargs):
            return self.call("call", name, args, kwargs)

        remote.__name__ = remote.__qualname__ = name
        return remote


def _names_used(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)}


def _split_check(test: str) -> tuple[object, int]:
    """HumanEval's ``def check(candidate)`` with each top-level statement that asserts
    wrapped so that it records its own outcome: (code, number of units)."""
    tree = ast.parse(test)
    units = 0
    for node in tree.body:
        if not (isinstance(node, ast.FunctionDef) and node.name == "check"):
            continue
        body = []
        for stmt in node.body:
            if any(isinstance(n, ast.Assert) for n in ast.walk(stmt)):
                wrapped = ast.parse(
                    f"try:\n    pass\nexcept __rl_gone__:\n    raise\n"
                    f"except BaseException as __rl_e:\n    __rl_record__({units}, __rl_e)\n"
                    f"else:\n    __rl_record__({units}, None)\n").body[0]
                wrapped.body = [stmt]  # type: ignore[attr-defined]
                body.append(wrapped)
                units += 1
            else:
                body.append(stmt)
        node.body = body
    ast.fix_missing_locations(tree)
    return compile(tree, "<tests>", "exec"), units


def _classify(exc: BaseException | None, session: _Session) -> tuple[str, str]:
    if isinstance(exc, AssertionError):
        return "wrong_answer", f"assertion failed{': ' + str(exc)[:200] if str(exc) else ''}"
    if isinstance(exc, _ChildGone):
        return _gone_reason(session)
    if isinstance(exc, MemoryError):
        return "memory", "the program ran out of memory"
    remote = getattr(exc, "_rl_remote", None)
    if remote == "forbidden":
        return "forbidden", str(exc)[:300]
    text = f"{type(exc).__name__}: {exc}"[:300]
    return "runtime_error", text


def _gone_reason(session: _Session) -> tuple[str, str]:
    if session.gone == "timeout":
        return "timeout", "the time limit was reached"
    return "runtime_error", "the program's process ended before the tests finished"


def _run_functions(job: dict, session: _Session) -> dict:
    session.send({"mode": "func", "program": job["program"], "tmpdir": job["tmpdir"],
                  "limits": job["limits"], "inputs": []})
    loaded = session.receive()
    session.net = bool(loaded[-1])
    tests: list[str] = job["tests"]
    total = len(tests) if job["kind"] == "asserts" else 0
    outcomes: dict[int, tuple[str, str] | None] = {}
    if loaded[0] == "syntax":
        return {"reason": "syntax_error", "detail": f"{loaded[1]}: {loaded[2]} (line {loaded[3]})",
                "passed": 0, "total": max(total, 1)}
    if loaded[0] == "loaded-error":
        reason = {"memory": "memory", "forbidden": "forbidden"}.get(loaded[1], "runtime_error")
        return {"reason": reason, "detail": f"{loaded[2]}: {loaded[3]}"[:300], "passed": 0,
                "total": max(total, 1)}

    def record(i: int, exc: BaseException | None) -> None:
        outcomes[i] = None if exc is None else _classify(exc, session)

    namespace: dict = {"__name__": "__rl_tests__", "__builtins__": builtins,
                       "__rl_record__": record, "__rl_gone__": _ChildGone}
    try:
        for setup in job.get("setup") or ():
            exec(compile(setup, "<setup>", "exec"), namespace)
    except Exception as exc:
        return {"reason": "task_error", "detail": f"the task's setup code failed: "
                f"{type(exc).__name__}: {exc}"[:300], "passed": 0, "total": max(total, 1)}
    entry = job.get("entry_point")
    wanted = {entry} if entry else set()
    for code in tests:
        wanted |= _names_used(code)
    wanted -= set(dir(builtins)) | {"__rl_record__", "__rl_gone__"}
    wanted = {n for n in wanted if n not in namespace or n == entry}
    try:
        for name in sorted(wanted):
            session.send(("get", name, (), {}))
            reply = session.receive()
            if reply[0] == "callable":
                namespace[name] = session.proxy(name)
            elif reply[0] in ("ok", "ref"):
                namespace[name] = session.result(reply)
            elif reply[0] == "module" and isinstance(reply[1], str) and (
                    reply[1].partition(".")[0] in sys.stdlib_module_names):
                namespace[name] = importlib.import_module(reply[1])
    except _ChildGone:
        reason, detail = _gone_reason(session)
        return {"reason": reason, "detail": detail, "passed": 0, "total": max(total, 1)}
    if job["kind"] == "check":
        try:
            code, total = _split_check(tests[0])
            exec(code, namespace)
            checker = namespace["check"]
        except Exception as exc:
            return {"reason": "task_error", "detail": f"the task's test code failed: "
                    f"{type(exc).__name__}: {exc}"[:300], "passed": 0, "total": 1}
        total = max(total, 1)
        if entry not in namespace:
            return {"reason": "runtime_error", "detail": f"the program defines no '{entry}'",
                    "passed": 0, "total": total}
        try:
            checker(namespace[entry])
            if not outcomes:
                outcomes[0] = None
        except BaseException as exc:
            failure = _classify(exc, session)
            for i in range(total):
                outcomes.setdefault(i, failure)
    else:
        for i, code in enumerate(tests):
            if session.gone:
                outcomes[i] = _gone_reason(session)
                continue
            try:
                exec(compile(code, f"<test {i}>", "exec"), namespace)
                outcomes[i] = None
            except BaseException as exc:
                outcomes[i] = _classify(exc, session)
    return _summary(outcomes, total, session)


def _summary(outcomes: dict, total: int, session: _Session) -> dict:
    failures = [outcomes.get(i, ("runtime_error", "the test did not run"))
                for i in range(total)]
    passed = sum(f is None for f in failures)
    first = next((f for f in failures if f is not None), None)
    if first is None:
        return {"reason": None, "detail": "", "passed": passed, "total": total}
    reason, detail = first
    if session.forbidden and reason != "timeout":
        reason, detail = "forbidden", "; ".join(session.forbidden)[:300]
    return {"reason": reason, "detail": detail, "passed": passed, "total": total}


def _normalise_output(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _run_stdio(job: dict, session: _Session) -> dict:
    cases = job["cases"]
    try:
        compile(job["program"], "<program>", "exec")
    except SyntaxError as exc:
        return {"reason": "syntax_error", "detail": f"SyntaxError: {exc}"[:300], "passed": 0,
                "total": len(cases)}
    except (ValueError, MemoryError, RecursionError) as exc:
        return {"reason": "syntax_error", "detail": f"{type(exc).__name__}: {exc}"[:300],
                "passed": 0, "total": len(cases)}
    session.send({"mode": "stdio", "program": job["program"], "tmpdir": job["tmpdir"],
                  "limits": job["limits"], "inputs": [c["input"] for c in cases]})
    outcomes: dict[int, tuple[str, str] | None] = {}
    try:
        for _ in cases:
            reply = session.receive()
            if reply[0] != "case":
                break
            i, status = reply[1], reply[2]
            session.net = bool(reply[-1])
            path = os.path.join(job["tmpdir"], f".{i}.out")
            try:
                with open(path, "rb") as fh:
                    out = fh.read(_OUTPUT_CAP).decode("utf-8", "replace")
            except OSError:
                out = ""
            if status == _MEMORY_EXIT:
                outcomes[i] = ("memory", "the program ran out of memory")
            elif status != 0:
                err = _tail(os.path.join(job["tmpdir"], f".{i}.err"))
                if err.startswith("_Forbidden"):
                    session.forbidden.append(err[12:])
                limit = int(job["limits"]["file_mb"]) << 20
                with contextlib.suppress(OSError):
                    if os.path.getsize(path) >= limit:
                        err = f"the output passed the {limit >> 20} MB limit"
                outcomes[i] = ("runtime_error", f"exit status {status}{': ' + err if err else ''}")
            elif _normalise_output(out) == _normalise_output(cases[i]["output"]):
                outcomes[i] = None
            else:
                outcomes[i] = ("wrong_answer", f"case {i}: output {out[:80]!r} differs from "
                               f"the expected {cases[i]['output'][:80]!r}")
    except _ChildGone:
        pass
    for i in range(len(cases)):
        outcomes.setdefault(i, _gone_reason(session))
    return _summary(outcomes, len(cases), session)


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 300))
            lines = fh.read().decode("utf-8", "replace").strip().splitlines()
            return lines[-1][:200] if lines else ""
    except OSError:
        return ""


def _serve(job: dict, pid: int, wfd: int, rfd: int) -> dict:
    """Run one job against the idle runner ``pid``; the report the parent reads."""
    session = _Session(pid, wfd, rfd, time.monotonic() + float(job["timeout"]))
    try:
        run = _run_stdio if job["mode"] == "stdio" else _run_functions
        out = run(job, session)
    except _ChildGone:
        reason, detail = _gone_reason(session)
        out = {"reason": reason, "detail": detail, "passed": 0, "total": 1}
    except Exception as exc:  # a harness bug: reported, never a pass
        out = {"reason": "harness_error", "detail": f"{type(exc).__name__}: {exc}"[:300],
               "passed": 0, "total": 1}
    finally:
        session.kill()
        for fd in (wfd, rfd):
            with contextlib.suppress(OSError):
                os.close(fd)
    out["nonce"] = job["nonce"]
    out["network_namespace"] = session.net
    out["forbidden"] = session.forbidden[:8]
    return out


def main() -> None:
    """The warm pool's harness: framed jobs on stdin, framed reports on stdout."""
    _die_with_parent()
    if os.getppid() == 1:
        os._exit(0)
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: no ptrace, no /proc/<pid>/fd for other processes
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    stdin, stdout = 0, 1
    _write_frame(stdout, json.dumps({"ready": os.getpid()}).encode())
    while True:
        pid, wfd, rfd = _fork_runner()  # before the job is read: the runner knows no test
        frame = _read_frame(stdin)
        if frame is None:
            os.kill(pid, signal.SIGKILL)
            return
        _write_frame(stdout, json.dumps(_serve(json.loads(frame), pid, wfd, rfd)).encode())


def oneshot() -> None:
    """One job read from stdin as JSON, its report printed as one marked line: how a
    remote sandbox (SandboxFusion) runs this file with the job as the program's stdin."""
    import tempfile

    _prctl(4, 0)
    pid, wfd, rfd = _fork_runner()  # before the job is read, as in main()
    job = json.loads(sys.stdin.read())
    job["tmpdir"] = tempfile.mkdtemp(prefix="rl-")
    out = _serve(job, pid, wfd, rfd)
    sys.stdout.write("\n" + REPORT_MARK + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
