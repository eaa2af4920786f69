"""The code sandbox's runner side: what runs in the process that runs the program.

Stdlib only, and importable two ways: as ``rewardlab.verify._runner`` and, by the harness
script started with ``python -I`` (which puts no package on the path it can trust), as the
top-level module ``_runner`` from this folder. For a remote sandbox the two files are sent as
one program (``_fusion.py``).

Here: the framing of the pipes, the runner's hygiene (descriptors, session, parent-death
signal, user + network namespace, resource limits, the audit hook that refuses sockets,
processes, ctypes and writes outside its folder), the plain-data check of values that cross
to the harness, the ``_Runner`` that loads the program and answers the harness's calls, and
``_fork_runner``, which the harness calls *before* it reads a job. Why the split between
the two processes is the defence: ``_harness.py`` and docs/verifiers.md.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import marshal
import os
import resource
import select
import signal
import sys
import time
import types

_MAX_FRAME = 64 << 20  # a runner reply larger than this is refused
_OUTPUT_CAP = 1 << 20  # bytes of a stdio program's output read back
_MEMORY_EXIT = 113  # a stdio runner's exit status for a MemoryError
_REF = "\x00rl-ref"
_MISSING = object()
_PLAIN = (int, float, complex, str, bytes, bool, type(None))
_CONTAINERS = (list, tuple, set, frozenset, dict)
_libc = None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - no libc to load
    _libc = None


# --- framing -----------------------------------------------------------------------------


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes | None:
    """``n`` bytes from ``fd``; None on end of file; TimeoutError past ``deadline``."""
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float | None = None) -> bytes | None:
    head = _read_exact(fd, 4, deadline)
    if head is None:
        return None
    size = int.from_bytes(head, "big")
    if size > _MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes is over the limit")
    return _read_exact(fd, size, deadline)


def _write_frame(fd: int, payload: bytes) -> None:
    data = len(payload).to_bytes(4, "big") + payload
    while data:
        data = data[os.write(fd, data):]


# --- process hygiene ---------------------------------------------------------------------


def _prctl(option: int, value: int) -> None:
    if _libc is not None:
        _libc.prctl(option, value, 0, 0, 0)


def _die_with_parent() -> None:
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _close_fds_except(keep: set[int]) -> None:
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _unshare_network() -> bool:
    """A new user + network namespace (only a down loopback): no network at all."""
    if _libc is None:
        return False
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(0x10000000 | 0x40000000) != 0:  # CLONE_NEWUSER | CLONE_NEWNET
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
        except OSError:
            pass
    return True


def _set_limits(limits: dict) -> None:
    mem = int(limits["memory_mb"]) << 20
    cpu = int(limits["cpu_seconds"])
    for which, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_DATA, mem),
                         (resource.RLIMIT_CPU, cpu),
                         (resource.RLIMIT_FSIZE, int(limits["file_mb"]) << 20),
                         (resource.RLIMIT_NPROC, int(limits["nproc"])),
                         (resource.RLIMIT_CORE, 0)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file is an OSError, not a kill


class _Forbidden(PermissionError):
    """What the runner's audit hook raises for an operation the sandbox refuses."""


_BLOCKED_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn",
                     "os.fork", "os.forkpty", "os.system", "pty.", "ctypes.", "os.startfile",
                     "resource.setrlimit", "resource.prlimit", "winreg.", "_winapi.")
_PATH_EVENTS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
                "os.link", "os.symlink", "os.truncate", "os.utime", "shutil.rmtree",
                "shutil.move", "os.removexattr", "os.setxattr")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _install_audit_hook(tmpdir: str, seen: list[str], allow_fork: bool) -> None:
    """Refuse network, processes, native code, signals to others, and writes outside the
    program's own directory. Audit hooks cannot be removed once added."""
    root = os.path.realpath(tmpdir) + os.sep
    me = os.getpid()

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True
        try:
            p = os.fsdecode(path)  # type: ignore[arg-type]
        except TypeError:
            return False
        return os.path.realpath(p).startswith(root) or p in ("/dev/null",)

    def refuse(event: str) -> None:
        if len(seen) < 8:
            seen.append(event)
        raise _Forbidden(f"the sandbox refuses {event}")

    def hook(event: str, args: tuple) -> None:
        if event.startswith(_BLOCKED_PREFIXES):
            if allow_fork and event == "os.fork":
                return
            refuse(event)
        elif event == "open":
            path, mode, flags = ((*tuple(args), None, None, None))[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            text = path if isinstance(path, str) else ""
            if writing and not inside(path):
                refuse(f"open for writing outside the sandbox: {text[:80]}")
            if text.startswith("/proc/") and text[6:7].isdigit() and not text.startswith(
                    f"/proc/{me}/"):
                refuse(f"open {text[:80]}")
        elif event in _PATH_EVENTS:
            if args and not inside(args[0]):
                refuse(f"{event} outside the sandbox")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill") and args and (
                args[0] not in (me, 0)):
            refuse(event)

    sys.addaudithook(hook)


# --- the runner (child) ------------------------------------------------------------------


def _plain(value: object, depth: int = 0) -> bool:
    """Whether ``value`` is built only from exact builtin data types."""
    t = type(value)
    if t in _PLAIN:
        return True
    if depth > 60 or t not in _CONTAINERS:
        return False
    if t is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1)
                   for k, v in value.items())  # type: ignore[attr-defined]
    return all(_plain(v, depth + 1) for v in value)  # type: ignore[attr-defined]


_COMPARISONS = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__",
                "__hash__", "__len__", "__contains__", "__iter__", "__getitem__", "__abs__",
                "__sub__", "__rsub__", "__float__", "__int__", "__index__", "__round__")


def _overrides(value: object) -> str | None:
    """The comparison-like special method a value's own class defines in Python, if any."""
    for klass in type(value).__mro__:
        if klass.__module__ == "builtins":
            continue
        for name in _COMPARISONS:
            fn = klass.__dict__.get(name)
            if fn is not None and not isinstance(fn, type(None)) and hasattr(fn, "__code__"):
                return f"{type(value).__name__}.{name}"
    return None


class _Runner:
    """The runner's side: load the program, answer the harness's calls."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.handles: dict[int, object] = {}
        self.seen: list[str] = []

    def send(self, message: tuple) -> None:
        try:
            payload = marshal.dumps(message)
        except ValueError:
            payload = marshal.dumps(("error", "ValueError", "unsendable reply", self.flags()))
        _write_frame(self.wfd, payload)

    def flags(self) -> tuple:
        return tuple(self.seen)

    def encode(self, value: object) -> tuple:
        if _plain(value):
            return ("ok", value, self.flags())
        hid = len(self.handles) + 1
        self.handles[hid] = value
        return ("ref", hid, type(value).__name__[:80], _overrides(value) or "", self.flags())

    def decode(self, value: object) -> object:
        t = type(value)
        if t is tuple and len(value) == 2 and value[0] == _REF:  # type: ignore[index]
            return self.handles.get(value[1])  # type: ignore[index]
        if t in (list, tuple):
            return t(self.decode(v) for v in value)  # type: ignore[attr-defined]
        if t is dict:
            return {k: self.decode(v) for k, v in value.items()}  # type: ignore[attr-defined]
        return value

    def error(self, exc: BaseException) -> tuple:
        kind = "memory" if isinstance(exc, MemoryError) else (
            "forbidden" if isinstance(exc, _Forbidden) else "error")
        try:
            text = str(exc)[:500]
        except BaseException:
            text = "?"
        return (kind, type(exc).__name__[:80], text, self.flags())

    def main(self) -> None:
        job = marshal.loads(_read_frame(self.rfd) or marshal.dumps(None))
        if not isinstance(job, dict):
            os._exit(2)
        tmpdir = job["tmpdir"]
        os.chdir(tmpdir)
        os.environ.update(HOME=tmpdir, TMPDIR=tmpdir)
        net = _unshare_network() if job["limits"]["network_namespace"] else False
        if job["mode"] == "stdio":
            self.stdio(job, net)
            os._exit(0)
        _set_limits(job["limits"])
        sys.dont_write_bytecode = True
        _install_audit_hook(tmpdir, self.seen, allow_fork=False)
        try:
            code = compile(job["program"], "<program>", "exec")
        except BaseException as exc:  # SyntaxError, ValueError (NUL), MemoryError, ...
            line = getattr(exc, "lineno", None)
            self.send(("syntax", type(exc).__name__, f"{exc}"[:500], line or 0, net))
            os._exit(0)
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        status: tuple = ("loaded", "", "", self.flags(), net)
        try:
            exec(code, namespace)
        except SystemExit as exc:
            status = ("loaded", "SystemExit", str(exc.code)[:100], self.flags(), net)
        except BaseException as exc:
            status = ("loaded-error", *self.error(exc)[:3], self.flags(), net)
        self.send(status)
        while True:
            frame = _read_frame(self.rfd)
            if frame is None:
                os._exit(0)
            request = marshal.loads(frame)
            op, name = request[0], request[1]
            try:
                if op == "get":
                    value = namespace.get(name, _MISSING)
                    if value is _MISSING:
                        reply: tuple = ("missing",)
                    elif isinstance(value, types.ModuleType):
                        reply = ("module", str(getattr(value, "__name__", ""))[:200])
                    elif callable(value):
                        reply = ("callable",)
                    else:
                        reply = self.encode(value)
                else:
                    target = namespace.get(name) if op == "call" else self.handles.get(name)
                    if target is None:
                        raise NameError(f"name '{name}' is not defined")
                    args = self.decode(request[2])
                    kwargs = self.decode(request[3])
                    reply = self.encode(target(*args, **kwargs))  # type: ignore[operator]
            except SystemExit as exc:
                reply = ("error", "SystemExit", str(exc.code)[:100], self.flags())
            except BaseException as exc:
                reply = self.error(exc)
            self.send(reply)

    def stdio(self, job: dict, net: bool) -> None:
        """Run the program once per input, each in its own grandchild process."""
        for i, text in enumerate(job["inputs"]):
            paths = [os.path.join(job["tmpdir"], f".{i}.{n}") for n in ("in", "out", "err")]
            with open(paths[0], "wb") as fh:
                fh.write(text.encode("utf-8", "surrogateescape"))
            pid = os.fork()
            if pid == 0:
                self.stdio_case(job, paths)
            _, status = os.waitpid(pid, 0)
            self.send(("case", i, os.waitstatus_to_exitcode(status), self.flags(), net))
        self.send(("done", self.flags(), net))

    def stdio_case(self, job: dict, paths: list[str]) -> None:
        _die_with_parent()
        for fd, (path, flags) in enumerate(((paths[0], os.O_RDONLY),
                                            (paths[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                            (paths[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC))):
            new = os.open(path, flags, 0o600)
            os.dup2(new, fd)
            os.close(new)
        _close_fds_except(set())
        sys.stdin = open(0, encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        _set_limits(job["limits"])
        sys.dont_write_bytecode = True
        _install_audit_hook(job["tmpdir"], self.seen, allow_fork=False)
        code = 0
        try:
            exec(compile(job["program"], "<program>", "exec"),
                 {"__name__": "__main__", "__builtins__": builtins})
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except MemoryError:
            code = _MEMORY_EXIT
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
            code = 1
        try:
            sys.stdout.flush()
        except BaseException:
            code = code or 1
        os._exit(code if 0 <= code < 256 else 1)


def _fork_runner() -> tuple[int, int, int]:
    """Fork an idle runner; returns (pid, fd to it, fd from it)."""
    to_r, from_h = os.pipe()
    to_h, from_r = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            _die_with_parent()
            os.close(from_h)
            os.close(to_h)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            _close_fds_except({to_r, from_r})
            _Runner(to_r, from_r).main()
        finally:
            os._exit(3)
    os.close(to_r)
    os.close(from_r)
    return pid, from_h, to_h


#: Prefix of the report line of a one-shot run (a remote sandbox's stdout).
REPORT_MARK = "@@rewardlab-sandbox-report@@ "
