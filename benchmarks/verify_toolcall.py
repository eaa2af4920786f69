"""``verify:toolcall`` on the Berkeley Function Calling Leaderboard's non-live categories.

simple (Python), multiple, parallel, parallel-multiple and irrelevance, every row of
``../shared/data/bfcl`` (BFCL v4, Apache-2.0) joined with its ``possible_answer`` line:

- every ground-truth call, built from each argument's first acceptable value (an argument
  whose first acceptable value is ``""`` is left out), must score 1 — written both as a JSON
  list of ``{"name", "arguments"}`` and as BFCL's Python call text;
- each single-field corruption of the first call — wrong function, a required argument
  dropped, a wrong value, an extra unknown argument, a value of the wrong type — must score 0
  in strict mode and, with ``partial=true``, exactly the expected credit: ``(T-1)/T`` for a
  failing item out of the correct response's ``T`` items, ``T/(T+1)`` for an extra argument;
- an irrelevance row answered in words scores 1, a call to one of its tools 0 (both modes).

Throughput is responses and calls per second through ``ToolCallChecker.check`` (cold: the
first pass parses each reference and checks its schemas; warm: the references cached).
Every miss is printed to stderr; the JSON line on stdout holds the figures.

    python benchmarks/verify_toolcall.py [--bfcl ../shared/data/bfcl]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import emit
from rewardlab.verify.toolcall import ToolCallChecker

CATEGORIES = {"simple": "simple_python", "multiple": "multiple", "parallel": "parallel",
              "parallel_multiple": "parallel_multiple", "irrelevance": "irrelevance"}
_ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data/bfcl beside the checkout (or beside its worktree folder)
DEFAULT_BFCL = next((p for p in (_ROOT.parent / "shared" / "data" / "bfcl",
                                 _ROOT.parent.parent / "shared" / "data" / "bfcl")
                     if p.exists()), _ROOT.parent / "shared" / "data" / "bfcl")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rows(bfcl: Path, category: str) -> list[dict[str, Any]]:
    """The category's lines with their ``ground_truth`` (``[]`` for irrelevance)."""
    name = CATEGORIES[category]
    out = _lines(bfcl / f"BFCL_v4_{name}.json")
    answers_path = bfcl / "possible_answer" / f"BFCL_v4_{name}.json"
    answers = {a["id"]: a["ground_truth"] for a in _lines(answers_path)} \
        if answers_path.exists() else {}
    for row in out:
        row["ground_truth"] = answers.get(row["id"], [])
    return out


def first_calls(ground_truth: list[dict[str, Any]], functions: list[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """The reference calls with each argument's first acceptable value; ``""`` first means
    leave the argument out, unless the schema requires it (then the first other value)."""
    def plain(value: Any) -> Any:  # nested objects hold lists of acceptable values too
        if isinstance(value, dict):
            return {k: first(v) for k, v in value.items() if not _omitted(v)}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    def first(options: list[Any], required: bool = False) -> Any:
        values = [o for o in options if not (isinstance(o, str) and o == "")] \
            if required else options
        return plain(values[0])

    out = []
    for call in ground_truth:
        for name, args in call.items():
            required = set(next(f for f in functions if f["name"] == name)["parameters"]
                           .get("required", []))
            out.append({"name": name, "arguments": {
                k: first(v, k in required) for k, v in args.items()
                if k in required or not _omitted(v)}})
    return out


def _omitted(options: list[Any]) -> bool:
    return isinstance(options[0], str) and options[0] == ""


def as_json(calls: list[dict[str, Any]]) -> str:
    return json.dumps(calls)


def as_python(calls: list[dict[str, Any]]) -> str:
    body = ", ".join(f"{c['name']}({', '.join(f'{k}={v!r}' for k, v in c['arguments'].items())})"
                     for c in calls)
    return f"[{body}]"


def _schema(row: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f["parameters"] for f in row["function"] if f["name"] == name)


def _wrong_value(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 7
    if isinstance(value, str):
        return value + "qx9"
    if isinstance(value, list):
        return [*value, value[0]] if value else ["qx9"]
    return None


def _wrong_type(value: Any, declared: str) -> Any:
    if declared in ("integer", "float", "long", "double", "boolean"):
        return f"{value}"
    if declared == "string":
        return 12345
    if declared in ("array", "tuple", "dict"):
        return "qx9"
    return None


def corruptions(row: dict[str, Any], calls: list[dict[str, Any]]
                ) -> dict[str, list[dict[str, Any]]]:
    """Single-field corruptions of the first call, by kind (a kind is absent when the call
    offers nothing to corrupt, e.g. no required argument)."""
    out: dict[str, list[dict[str, Any]]] = {}
    call = calls[0]
    schema = _schema(row, call["name"])

    def with_call(new: dict[str, Any]) -> list[dict[str, Any]]:
        return [new, *calls[1:]]

    others = [f["name"] for f in row["function"] if f["name"] != call["name"]]
    out["wrong_function"] = with_call({**call, "name": others[0] if others
                                       else call["name"] + "_v2"})
    required = [r for r in schema.get("required", []) if r in call["arguments"]]
    if required:
        args = dict(call["arguments"])
        del args[required[0]]
        out["missing_required"] = with_call({**call, "arguments": args})
    gt_args = next(iter(row["ground_truth"][0].values()))
    for arg, value in call["arguments"].items():
        bad = _wrong_value(value)
        if bad is not None and bad not in gt_args[arg]:
            out["wrong_value"] = with_call({**call, "arguments": {**call["arguments"],
                                                                 arg: bad}})
            break
    out["extra_unknown_argument"] = with_call(
        {**call, "arguments": {**call["arguments"], "zz_unknown_arg": 1}})
    for arg, value in call["arguments"].items():
        declared = schema["properties"].get(arg, {}).get("type", "any")
        bad = _wrong_type(value, declared)
        if bad is not None:
            out["wrong_type"] = with_call({**call, "arguments": {**call["arguments"], arg: bad}})
            break
    return out


EXPECTED_REASON = {"wrong_function": "wrong_function", "missing_required": "missing_argument",
                   "wrong_value": "wrong_value", "extra_unknown_argument": "unknown_argument",
                   "wrong_type": "wrong_type"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bfcl", type=Path, default=DEFAULT_BFCL)
    args = parser.parse_args()
    strict, partial = ToolCallChecker(), ToolCallChecker(partial=True)

    responses: list[str] = []
    references: list[str] = []
    #: per response: (category, id, what, expected strict reward, expected partial reward,
    #: expected reason)
    expect: list[tuple[str, str, str, float, float, str]] = []
    counts: Counter[str] = Counter()
    for category in CATEGORIES:
        for row in rows(args.bfcl, category):
            ref = json.dumps({"tools": row["function"], "ground_truth": row["ground_truth"]})
            counts[category] += 1
            if not row["ground_truth"]:
                tool = row["function"][0]
                call = [{"name": tool["name"], "arguments": {
                    r: 1 for r in tool["parameters"].get("required", [])}}]
                for what, text, reward, reason in (
                        ("no_call", "None of the functions can answer this.", 1.0, "ok"),
                        ("called", as_json(call), 0.0, "called_irrelevant")):
                    responses.append(text)
                    references.append(ref)
                    expect.append((category, row["id"], what, reward, reward, reason))
                continue
            calls = first_calls(row["ground_truth"], row["function"])
            total = len(strict.check_one(as_json(calls), ref).checks)
            for what, text in (("correct_json", as_json(calls)),
                               ("correct_python", as_python(calls))):
                responses.append(text)
                references.append(ref)
                expect.append((category, row["id"], what, 1.0, 1.0, "ok"))
            for kind, bad in corruptions(row, calls).items():
                credit = total / (total + 1) if kind == "extra_unknown_argument" \
                    else (total - 1) / total
                responses.append(as_json(bad))
                references.append(ref)
                expect.append((category, row["id"], kind, 0.0, credit, EXPECTED_REASON[kind]))

    start = time.perf_counter()
    got_strict = strict.check(responses, references)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    got_strict = strict.check(responses, references)
    warm = time.perf_counter() - start
    got_partial = partial.check(responses, references)
    n_calls = sum(len(v.calls or ()) for v in got_strict)

    by_kind: dict[str, Counter[str]] = {}
    misses = []
    for e, s, p in zip(expect, got_strict, got_partial, strict=True):
        category, row_id, what, want_s, want_p, reason = e
        tally = by_kind.setdefault(what, Counter())
        tally["n"] += 1
        ok_s = s.reward == want_s and s.reason == reason
        ok_p = abs(p.reward - want_p) < 1e-9
        tally["strict_ok"] += ok_s
        tally["partial_ok"] += ok_p
        if not (ok_s and ok_p):
            misses.append(e)
            print(f"MISS {row_id} {what}: strict {s.reward} ({s.reason}), partial "
                  f"{p.reward:.3f} (want {want_p:.3f}, {reason})", file=sys.stderr)
    emit("verify_toolcall", rows=dict(counts), responses=len(responses), calls=n_calls,
         all_as_expected=not misses, misses=len(misses),
         by_kind={k: dict(v) for k, v in sorted(by_kind.items())},
         responses_per_s_cold=round(len(responses) / cold, 1),
         responses_per_s_warm=round(len(responses) / warm, 1),
         calls_per_s_cold=round(n_calls / cold, 1), calls_per_s_warm=round(n_calls / warm, 1))


if __name__ == "__main__":
    main()
