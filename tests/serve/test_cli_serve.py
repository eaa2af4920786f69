"""``rewardlab serve``: a thin command that builds the app and hands it to uvicorn."""

from __future__ import annotations

import pytest

import rewardlab.serve


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Replace uvicorn with a recorder: the command's job ends at ``run(app, ...)``."""
    seen: dict = {}

    def fake_run(app, *, host: str, port: int, log_level: str = "info") -> None:
        seen.update(app=app, host=host, port=port)

    monkeypatch.setattr(rewardlab.serve, "run", fake_run)
    return seen


def test_serve_builds_the_app_from_options(run_cli, captured, monkeypatch) -> None:
    monkeypatch.setenv("REWARDLAB_SERVE_TOKEN", "from-env")
    result = run_cli("serve", "verify:math", "--port", "9123", "--max-batch", "8",
                     "--max-wait-ms", "2.5", "--max-request-items", "100",
                     "--max-body-mb", "1")
    assert result.code == 0, result.err
    assert "http://127.0.0.1:9123/get_reward" in result.out
    assert captured["host"] == "127.0.0.1" and captured["port"] == 9123
    config = captured["app"].state.config
    assert (config.max_batch, config.max_wait_ms, config.max_request_items) == (8, 2.5, 100)
    assert config.max_body_bytes == 1024 * 1024 and config.token == "from-env"


def test_serve_untrained_model_is_a_clean_error(run_cli, captured) -> None:
    result = run_cli("serve", "embed:minilm")
    assert result.code == 2
    assert "error:" in result.err and "not trained yet" in result.err
    assert "Traceback" not in result.err
    assert captured == {}


def test_serve_bad_spec_and_option(run_cli, captured) -> None:
    assert run_cli("serve", "nosuchkind:x").code == 2
    assert run_cli("serve", "verify:math", "--max-batch", "0").code == 2
    assert captured == {}
