"""``rewardlab serve``: a thin command that builds the app and hands it to uvicorn."""

from __future__ import annotations

import socket

import pytest

import rewardlab.serve
from rewardlab.errors import ConfigError
from rewardlab.serve import check_port


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Replace uvicorn with a recorder: the command's job ends at ``run(app, ...)``."""
    seen: dict = {}

    def fake_run(app, *, host: str, port: int, log_level: str = "info") -> None:
        seen.update(app=app, host=host, port=port)

    monkeypatch.setattr(rewardlab.serve, "run", fake_run)
    return seen


def test_serve_builds_the_app_from_options(run_cli, captured, monkeypatch, unused_port
                                           ) -> None:
    monkeypatch.setenv("REWARDLAB_SERVE_TOKEN", "from-env")
    result = run_cli("serve", "verify:math", "--port", unused_port, "--max-batch", "8",
                     "--max-wait-ms", "2.5", "--max-request-items", "100",
                     "--max-body-mb", "1")
    assert result.code == 0, result.err
    assert f"http://127.0.0.1:{unused_port}/get_reward" in result.out
    assert captured["host"] == "127.0.0.1" and captured["port"] == unused_port
    config = captured["app"].state.config
    assert (config.max_batch, config.max_wait_ms, config.max_request_items) == (8, 2.5, 100)
    assert config.max_body_bytes == 1024 * 1024 and config.token == "from-env"


def test_serve_untrained_model_is_a_clean_error(run_cli, captured, unused_port) -> None:
    result = run_cli("serve", "embed:minilm", "--port", unused_port)  # port 8000 may be busy
    assert result.code == 2
    assert "error:" in result.err and "not trained yet" in result.err
    assert "Traceback" not in result.err
    assert captured == {}


def test_serve_bad_spec_and_option(run_cli, captured, unused_port) -> None:
    result = run_cli("serve", "nosuchkind:x", "--port", unused_port)
    assert result.code == 2 and "nosuchkind" in result.err
    assert run_cli("serve", "verify:math", "--max-batch", "0").code == 2
    assert captured == {}


def test_serve_on_a_busy_port_fails_before_the_model_loads(run_cli, captured, tmp_path) -> None:
    with socket.socket() as busy:  # a real listener on loopback, as another server would be
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # the model does not exist: an error about it would mean it was loaded first
        result = run_cli("serve", tmp_path / "no-such-model", "--port", port)
    text = " ".join(result.err.split())
    assert result.code == 2, result.err
    assert text == (f"error: cannot serve on 127.0.0.1:{port}: the port is already in use "
                    "(another server listens there); stop it or choose another --port")
    assert captured == {}


def test_check_port_passes_free_ports_and_names_bad_hosts(unused_port: int) -> None:
    check_port("127.0.0.1", unused_port)
    check_port("127.0.0.1", 0)  # any free port
    with pytest.raises(ConfigError, match=r"cannot serve on no-such-host\.invalid:\d+: unknown "
                       "host"):
        check_port("no-such-host.invalid", unused_port)


def test_a_port_in_time_wait_counts_as_free() -> None:
    """A server stopped a moment ago leaves its connections in TIME_WAIT; uvicorn binds over
    them (its sockets use SO_REUSEADDR), so the check must not call the port busy. Without
    SO_REUSEADDR in the check this bind fails with EADDRINUSE."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's listener
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    check_port("127.0.0.1", port)
