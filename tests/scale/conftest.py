"""One local Ray instance for the whole session (start-up costs seconds), and small real data.

The data is the bundled GSM8K example solutions scored by ``verify:math``: a real model that
needs no training and checks a few hundred rows in a fraction of a second, so the tests time
Ray, sharding and resume rather than an encoder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rewardlab.data import bundled_path

ray = pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_session(session_cache: Path):
    """A local Ray with 2 CPUs, no dashboard and a small object store, shared by every test.

    Depends on ``session_cache`` so the workers inherit the session's embedding cache."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024 * 1024,
             log_to_driver=False, logging_level="ERROR")
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-operator stats at DEBUG
    yield ray
    ray.shutdown()


def gsm8k_lines(n: int) -> list[str]:
    with bundled_path("gsm8k_examples").open(encoding="utf-8") as fh:
        return [next(fh).rstrip("\n") for _ in range(n)]


@pytest.fixture(scope="session")
def gsm_clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 240 GSM8K example rows (best-of-4 solutions with a reference answer)."""
    path = tmp_path_factory.mktemp("data") / "gsm240.jsonl"
    path.write_text("\n".join(gsm8k_lines(240)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def gsm_bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 GSM8K rows with three bad ones in different shards: malformed JSON (line 11), a
    list (line 51) and a number for the question (line 201); line 101 is blank."""
    lines = gsm8k_lines(300)
    lines.insert(10, '{"question": "broken"')
    lines.insert(50, "[1, 2]")
    lines.insert(100, "")
    row = json.loads(lines[200])
    row["question"] = 5
    lines[200] = json.dumps(row)
    path = tmp_path_factory.mktemp("data") / "gsm_bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read_parts(out: Path) -> list[dict]:
    rows: list[dict] = []
    for part in sorted(out.glob("part-*.jsonl")):
        rows += [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()]
    return rows


@pytest.fixture(scope="session")
def read_parts():
    """``read_parts(out)``: every output row of a JSONL shard directory, in shard order."""
    return _read_parts


@pytest.fixture(scope="session")
def reference_scores(tmp_path_factory: pytest.TempPathFactory):
    """``rewardlab score`` (no Ray) of a file, for comparison, memoised per file."""
    from rewardlab import api

    done: dict[tuple, list[dict]] = {}

    def score(path: Path, **options) -> list[dict]:
        key = (path, tuple(sorted(options.items())))
        if key not in done:
            out = tmp_path_factory.mktemp("ref") / "scores.jsonl"
            api.score("verify:math", path, out=out, **options)
            done[key] = [json.loads(line) for line in out.read_text().splitlines()]
        return done[key]

    return score



@pytest.fixture(scope="session")
def finished_job(ray_session, gsm_bad: Path, tmp_path_factory: pytest.TempPathFactory):
    """``(result, out)`` of one finished job over ``gsm_bad`` (bad rows skipped, 8 shards of
    40 rows, 2 workers), shared by the tests that only read it or run it again."""
    from rewardlab.scale import score_distributed

    out = tmp_path_factory.mktemp("job") / "out"
    result = score_distributed("verify:math", gsm_bad, out=out, shard_rows=40, workers=2,
                               skip_invalid=True)
    return result, out
