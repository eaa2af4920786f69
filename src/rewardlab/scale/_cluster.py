"""Connecting to Ray: a local instance by default, a running cluster with ``address``.

``ray.init`` keeps retrying an address that does not answer for a minute or more, so the
address is first checked with a plain TCP connection under a short timeout; a wrong address
fails in seconds with a message that says what to check.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from rewardlab.errors import MissingDependencyError, RewardLabError

__all__ = ["ClusterError", "check_reachable", "connect", "import_ray"]

_GCS_PORT = 6379
_CLIENT_PORT = 10001
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_H2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # length 0, type 4 (SETTINGS)
_H2_SETTINGS = 0x04


class ClusterError(RewardLabError, ConnectionError):
    """The Ray cluster named by ``--address`` cannot be reached or joined."""


def import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError(
            f"scoring with --ray needs Ray Data ({exc.name or exc} is missing); install it "
            "with: pip install 'rewardlab[ray]'") from None
    return ray


def _host_port(address: str) -> tuple[str, int]:
    rest, default = address, _GCS_PORT
    if rest.startswith("ray://"):
        rest, default = rest[len("ray://"):], _CLIENT_PORT
    rest = rest.rstrip("/")
    if rest.startswith("["):  # [IPv6]:port
        host, _, port = rest[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, sep, port = rest.rpartition(":")
        if not sep:
            host, port = rest, ""
    if not host:
        raise ClusterError(f"The 'address' parameter must be HOST:PORT, ray://HOST:PORT or "
                           f"'auto'. Got {address!r}.")
    try:
        return host, int(port) if port else default
    except ValueError:
        raise ClusterError(f"The 'address' parameter must end in a port number. Got "
                           f"{address!r}.") from None


def check_reachable(address: str, *, timeout: float) -> None:
    """Raise ``ClusterError`` unless a gRPC (HTTP/2) server answers at ``address`` within
    ``timeout`` seconds, as Ray's GCS and Ray Client servers do.

    A TCP connection alone is not enough: proxies and firewalls accept connections for hosts
    that are not there. The HTTP/2 client preface must be answered by a SETTINGS frame.
    """
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_H2_PREFACE + _H2_EMPTY_SETTINGS)
            head = conn.recv(9)
        if len(head) == 9 and head[3] == _H2_SETTINGS:
            return
        reason = "something answers there, but not a Ray (gRPC) server"
    except OSError as exc:
        reason = ("no answer" if isinstance(exc, TimeoutError)
                  else (exc.strerror or str(exc)))
    raise ClusterError(
        f"cannot reach the Ray cluster at {address} ({reason}; waited at most {timeout:g} s). "
        f"Check that the head node is running (`ray start --head` prints the address to use: "
        f"HOST:{_GCS_PORT}, or ray://HOST:{_CLIENT_PORT} for Ray Client) and that this "
        "machine can reach it; leave out --address (and unset RAY_ADDRESS) to score on a local "
        "Ray instance")


def connect(address: str | None, *, timeout: float = 10.0,
            num_cpus: int | None = None) -> tuple[Any, bool]:
    """Join the cluster at ``address`` (or start a local Ray); returns ``(ray, started)``.

    When this process is already connected (a notebook, a test session, a Ray job), that
    connection is used and ``started`` is False: the caller must not shut it down. A given
    ``address`` is checked for an answer first either way.
    """
    ray = import_ray()
    local = address in (None, "", "local")
    if not local and address != "auto":
        check_reachable(address, timeout=timeout)
    if ray.is_initialized():
        return ray, False
    options: dict[str, Any] = {"log_to_driver": True, "logging_level": logging.WARNING}
    if local:
        options.update(num_cpus=num_cpus, include_dashboard=False)
    else:
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot join the Ray cluster at {address or 'local'}: {exc}"
                           ) from None
    return ray, True
