"""Writing outputs (``rewardlab._io``): an output never replaces an input, a stale skipped
file never outlives the run that wrote it, and outputs get the modes the umask asks for."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewardlab._io import (
    check_outputs,
    current_umask,
    report_skipped,
    skipped_path,
    write_json,
    write_jsonl,
)
from rewardlab.data import SkippedRow
from rewardlab.errors import OutputError
from rewardlab.models._saved import atomic_directory


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "g.jsonl"
    path.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n')
    return path


def _alias(kind: str, data: Path) -> Path:
    """Another name for ``data``: itself, a symlink, a hard link, a path through '..'."""
    if kind == "same":
        return data
    if kind == "symlink":
        link = data.with_name("link.jsonl")
        link.symlink_to(data.name)
        return link
    if kind == "hardlink":
        link = data.with_name("hard.jsonl")
        os.link(data, link)
        return link
    (data.parent / "sub").mkdir()
    return data.parent / "sub" / ".." / data.name


@pytest.mark.parametrize("kind", ["same", "symlink", "hardlink", "dotdot"])
def test_an_output_that_is_an_input_is_refused(data: Path, kind: str) -> None:
    out = _alias(kind, data)
    with pytest.raises(OutputError, match="would replace the input") as info:
        check_outputs({"--out": out}, {"DATA": data})
    message = str(info.value)
    assert f"--out {out}" in message and f"DATA {data}" in message
    assert "Choose another --out" in message
    assert ("(the same file)" in message) == (kind != "same")


def test_two_outputs_on_one_file_are_refused(data: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    with pytest.raises(OutputError, match=r"--json .*r\.json and --html .*r\.json are the same"):
        check_outputs({"--json": report, "--html": report}, {"DATA": data})


def test_the_skipped_file_beside_an_output_counts_as_an_output(tmp_path: Path) -> None:
    data = tmp_path / "scores.skipped.jsonl"  # the skipped file of --out scores.jsonl
    data.write_text("{}\n")
    check_outputs({"--out": tmp_path / "scores.jsonl"}, {"DATA": data})  # not asked: passes
    with pytest.raises(OutputError, match=r"--out's skipped-rows file .* is the input DATA"):
        check_outputs({"--out": tmp_path / "scores.jsonl"}, {"DATA": data}, skipped_files=True)


def test_distinct_paths_and_non_paths_pass(data: Path, tmp_path: Path) -> None:
    check_outputs({"--out": tmp_path / "scores.jsonl", "--json": None},
                  {"DATA": data, "--eval-data": None, "MODEL": object(),
                   "--suite": "bundled:hh_harmless"}, skipped_files=True)


def _skipped(n: int) -> list[SkippedRow]:
    return [SkippedRow("d.jsonl", i + 1, "chosen", "is missing", {"id": i}) for i in range(n)]


def test_a_run_that_skips_nothing_removes_the_stale_skipped_file(tmp_path: Path) -> None:
    out = tmp_path / "scores.jsonl"
    written = report_skipped(_skipped(2), out)
    assert written == skipped_path(out) == tmp_path / "scores.skipped.jsonl"
    assert [json.loads(line)["line"] for line in written.read_text().splitlines()] == [1, 2]
    assert report_skipped([], out) is None
    assert not written.exists()
    assert report_skipped([], out) is None  # nothing to remove: still fine
    assert report_skipped(_skipped(1), None) is None  # no output to put it beside


@pytest.fixture
def umask() -> Iterator[None]:
    """Restores the test process's umask after a test sets its own."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"),
                         [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])
def test_outputs_and_saved_models_honour_the_umask(tmp_path: Path, umask: None, mask: int,
                                                   file_mode: int, dir_mode: int) -> None:
    os.umask(mask)
    assert current_umask() == mask
    write_jsonl(tmp_path / "scores.jsonl", [{"id": 0, "reward": 1.0}])
    write_json(tmp_path / "eval.json", {"accuracy": 1.0})
    with atomic_directory(tmp_path / "model") as tmp:
        (tmp / "rewardlab.json").write_text("{}")
        (tmp / "weights.bin").write_bytes(b"\0")
        os.chmod(tmp / "weights.bin", 0o600)  # as safetensors writes its files
        (tmp / "member-0").mkdir(mode=0o700)
    for path, mode in [("scores.jsonl", file_mode), ("eval.json", file_mode),
                       ("model", dir_mode), ("model/rewardlab.json", file_mode),
                       ("model/weights.bin", file_mode), ("model/member-0", dir_mode)]:
        assert stat.S_IMODE((tmp_path / path).stat().st_mode) == mode, path


def test_a_saved_embed_model_is_readable_by_others_under_umask_022(
        trained_embed, tmp_path: Path, umask: None) -> None:
    os.umask(0o022)
    saved = trained_embed.save(tmp_path / "rm")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [saved, *saved.iterdir()]}
    assert modes.pop("rm") == 0o755
    assert set(modes.values()) == {0o644}, modes  # safetensors alone would write 0600


def test_a_file_where_a_parent_directory_should_be_is_named(tmp_path: Path) -> None:
    """Not ``cannot write .../notes.txt/scores.jsonl: File exists`` (mkdir's words)."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    with pytest.raises(OutputError, match=rf"{blocker} is a file, not a directory"):
        write_jsonl(blocker / "sub" / "scores.jsonl", [{"id": 0}])
    assert blocker.read_text() == "mine"
