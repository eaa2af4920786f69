"""Running the reward server with uvicorn: in the foreground (``rewardlab serve``) or in a
background thread (tests, notebooks, benchmarks: a real server on a real socket)."""

from __future__ import annotations

import errno
import socket
import threading
import time
from types import TracebackType
from typing import Any

from rewardlab.errors import ConfigError

__all__ = ["BackgroundServer", "check_port", "run"]

_BIND_HINTS = {
    errno.EADDRINUSE: "the port is already in use (another server listens there); stop it "
                      "or choose another --port",
    errno.EADDRNOTAVAIL: "the address is not one of this machine's; use 127.0.0.1, 0.0.0.0 "
                         "or an address of this machine",
}


def check_port(host: str, port: int) -> None:
    """Raise ``ConfigError`` unless ``host:port`` can be listened on now.

    ``rewardlab serve`` calls this before loading the model, so a busy port fails in a second
    with one line, not after a minute of loading with uvicorn's errno message. The test binds
    every address the host resolves to, with the options uvicorn's own socket uses
    (``SO_REUSEADDR``, so a port left in TIME_WAIT by a stopped server still counts as free),
    and releases it at once; ``port=0`` (any free port) always passes.

    Raises:
        ConfigError: naming ``host:port`` and why (in use, not this machine's address,
            unknown host, a privileged port).
    """
    if port == 0:
        return
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot serve on {where}: unknown host {host!r} "
                          f"({exc.strerror}); give an IP address or a resolvable name"
                          ) from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                hint = _BIND_HINTS.get(exc.errno or 0, exc.strerror or str(exc))
                if exc.errno == errno.EACCES and port < 1024:
                    hint = "ports below 1024 need privileges; choose a port above 1023"
                raise ConfigError(f"cannot serve on {where}: {hint}") from None


def run(app: Any, *, host: str = "127.0.0.1", port: int = 8000,
        log_level: str = "info") -> None:
    """Serve ``app`` until Ctrl-C / SIGTERM. Access logs are off: at thousands of requests a
    second they cost more than the scoring; ``GET /metrics`` counts every request instead."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


class BackgroundServer:
    """A uvicorn server on a daemon thread; ``port=0`` picks a free port.

    Args:
        app: the ASGI app (``create_app(...)``).
        host: the interface to bind (loopback by default).
        port: the port, or 0 for any free one (read ``.port`` / ``.url`` once started).
        log_level: uvicorn's log level.
        startup_timeout: seconds to wait for the socket to listen.

    Example:
        >>> from rewardlab.serve import ServeConfig, create_app
        >>> import httpx
        >>> with BackgroundServer(create_app("verify:math", warm_up=False)) as server:
        ...     httpx.get(server.url + "/health").json()["model"]
        'verify:math'
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning", startup_timeout: float = 30.0) -> None:
        self.app, self.host, self.port = app, host, port
        self.log_level, self.startup_timeout = log_level, startup_timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        """Start serving and wait until the socket listens."""
        import uvicorn

        config = uvicorn.Config(self.app, host=self.host, port=self.port,
                                log_level=self.log_level, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="rewardlab-serve",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the reward server stopped during start-up; see its log")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the reward server did not start within "
                                   f"{self.startup_timeout:g} s")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Ask uvicorn to shut down (finishing in-flight requests) and wait for it."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._server, self._thread = None, None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
