"""verify:code: the sandbox's verdicts, its limits, and the exploits that must not pass.

One pool of two harness processes for the module; every program is a few lines, so the
whole file runs in a few seconds (the timeout cases dominate)."""

from __future__ import annotations

import json
import time

import pytest

from rewardlab.verify import CodeChecker, Limits, SandboxPool, TaskError, extract_code, parse_task

HUMANEVAL = {
    "prompt": "def add(a: int, b: int) -> int:\n    \"\"\"Sum of a and b.\"\"\"\n",
    "entry_point": "add",
    "test": "\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n"
            "    assert candidate(-1, 1) == 0\n    assert candidate(5, 5) == 10\n",
}
ASSERTS = {"tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]}
GOOD = "    return a + b\n"
ALMOST = "    return 0 if a == 5 else a + b\n"  # fails one of the three asserts


@pytest.fixture(scope="module")
def checker() -> CodeChecker:
    return CodeChecker(limits=Limits(timeout=2.0), workers=2)


def reasons(checker: CodeChecker, responses: list[str], ref: dict) -> list[str]:
    return [v.reason for v in checker.check(responses, [ref] * len(responses))]


def test_humaneval_completion_and_full_function_pass(checker: CodeChecker) -> None:
    full = "```python\ndef add(a, b):\n    return a + b\n```"
    verdicts = checker.check([GOOD, full, ALMOST], [HUMANEVAL] * 3)
    assert [v.reason for v in verdicts] == ["passed", "passed", "wrong_answer"]
    assert [v.reward for v in verdicts] == [1.0, 1.0, 0.0]
    assert (verdicts[2].passed, verdicts[2].total) == (2, 3)


def test_partial_credit_is_the_share_of_passing_tests() -> None:
    # a loose limit: nothing here loops, and a loaded machine must not turn a slow start of
    # the sandbox into a timeout
    checker = CodeChecker(partial=True, limits=Limits(timeout=10.0), workers=1)
    [v] = checker.check([ALMOST], [HUMANEVAL])
    assert v.reward == pytest.approx(2 / 3)
    assert v.reason == "wrong_answer"


@pytest.mark.parametrize(("response", "reason"), [
    ("def add(a, b) return", "syntax_error"),
    ("def add(a, b):\n    raise KeyError('x')", "runtime_error"),
    ("def add(a, b):\n    return 0", "wrong_answer"),
    ("", "no_code"),
    ("I cannot write this function, sorry.", "no_code"),
    ("def add(a, b):\n    x = bytearray(10 * 1024 ** 3)\n    return a + b", "memory"),
    ("import socket\ndef add(a, b):\n    socket.create_connection(('1.1.1.1', 80))\n"
     "    return a + b", "forbidden"),
    ("import os\ndef add(a, b):\n    while True:\n        os.fork()", "forbidden"),
    ("def add(a, b):\n    open('/tmp/rewardlab-escape', 'w').write('x')\n    return a + b",
     "forbidden"),
])
def test_every_failure_has_its_reason(checker: CodeChecker, response: str, reason: str) -> None:
    assert reasons(checker, [response], ASSERTS) == [reason]


def test_infinite_loop_times_out_within_the_limit_plus_one_second(checker: CodeChecker) -> None:
    start = time.monotonic()
    out = reasons(checker, ["def add(a, b):\n    while True:\n        pass",
                            "import time\ndef add(a, b):\n    time.sleep(60)"], ASSERTS)
    assert out == ["timeout", "timeout"]
    assert time.monotonic() - start < 2 * (2.0 + 1.0)


EXPLOITS = {
    "sys.exit before the tests": "import sys\nsys.exit(0)\ndef add(a, b):\n    return 0",
    "os._exit": "import os\nos._exit(0)",
    "always-equal object": "class E:\n    def __eq__(self, o):\n        return True\n"
                           "    __hash__ = object.__hash__\ndef add(a, b):\n    return E()",
    "int subclass": "class I(int):\n    def __eq__(self, o):\n        return True\n"
                    "def add(a, b):\n    return I(0)",
    "AssertionError replaced": "import builtins\nbuiltins.AssertionError = type('A', (Exception,)"
                               ", {})\ndef add(a, b):\n    return 0",
    "fake success line": "print('All tests passed')\nprint('{\"passed\": 2, \"total\": 2}')\n"
                         "def add(a, b):\n    return 0",
    "trace skips asserts": "import sys\nsys.settrace(lambda *a: None)\ndef add(a, b):\n"
                           "    return 0",
    "check replaced": "def check(candidate):\n    return True\ndef add(a, b):\n    return 0",
    "exit inside the call": "import os\ndef add(a, b):\n    os._exit(0)",
    "SystemExit inside the call": "def add(a, b):\n    raise SystemExit(0)",
}


@pytest.mark.parametrize("name", sorted(EXPLOITS))
def test_exploits_never_pass(checker: CodeChecker, name: str) -> None:
    for ref in (ASSERTS, HUMANEVAL):
        [v] = checker.check([EXPLOITS[name]], [ref])
        assert v.reward == 0.0, (name, v)


def test_always_equal_object_is_reported_forbidden(checker: CodeChecker) -> None:
    [v] = checker.check([EXPLOITS["always-equal object"]], [ASSERTS])
    assert v.reason == "forbidden" and "__eq__" in v.detail


def test_stdio_cases_compare_output_and_survive_bad_bytes(checker: CodeChecker) -> None:
    ref = {"tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "4 5", "output": "9"}]}
    good = "a, b = map(int, input().split())\nprint(a + b)"
    binary = "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe\\x00' * 10)"
    flood = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)"
    out = checker.check([good, binary, flood], [ref] * 3)
    assert [v.reason for v in out] == ["passed", "wrong_answer", "runtime_error"]
    assert "MB limit" in out[2].detail


def test_mbpp_rows_use_their_imports_and_setup(checker: CodeChecker) -> None:
    ref = {"test_list": ["assert math.isclose(area(1), math.pi)"], "test_imports": ["import math"],
           "test_setup_code": "EXTRA = 1"}
    assert reasons(checker, ["import math\ndef area(r):\n    return math.pi * r * r"],
                   ref) == ["passed"]
    # as in MBPP's harness, the test imports are in the program's module too
    assert reasons(checker, ["def area(r):\n    return math.pi * r * r"], ref) == ["passed"]


def test_references_travel_as_json_text(checker: CodeChecker) -> None:
    assert reasons(checker, [GOOD], json.dumps(HUMANEVAL)) == ["passed"]  # type: ignore[arg-type]


def test_a_task_without_tests_is_an_error_naming_the_item(checker: CodeChecker) -> None:
    with pytest.raises(TaskError, match=r"references\[1\].*'tests'"):
        checker.check(["x", "y"], [ASSERTS, {"tests": []}])
    with pytest.raises(TaskError, match="names no tests"):
        parse_task({"answer": "4"})
    with pytest.raises(TaskError, match="would pass any program"):
        parse_task("72")  # a math answer handed to verify:code
    assert parse_task('["assert f(1) == 2"]').tests == ("assert f(1) == 2",)


def test_a_task_whose_own_test_code_fails_is_a_task_error(checker: CodeChecker) -> None:
    broken = {**HUMANEVAL, "test": "def check(candidate):\n    assert undefined_helper(1)\n"}
    [v] = checker.check([GOOD], [broken])
    assert v.reward == 0.0 and v.reason == "runtime_error" and "undefined_helper" in v.detail


def test_extract_code_takes_the_last_fenced_block() -> None:
    text = "First:\n```python\nx = 1\n```\nbetter:\n```\ny = 2\n```\n"
    assert extract_code(text) == "y = 2\n"
    assert extract_code("```python\nz = 3\n") == "z = 3\n"  # an unclosed block (truncated)
    assert extract_code("    return a + b\n") == "    return a + b\n"


def test_pool_results_keep_the_order_of_the_jobs() -> None:
    pool = SandboxPool(workers=2)
    try:
        jobs = [{"mode": "func", "kind": "asserts", "program": f"def f():\n    return {i}",
                 "tests": [f"assert f() == {i}"]} for i in range(12)]
        jobs[5]["tests"] = ["assert f() == -1"]
        results = pool.run(jobs, Limits(timeout=5))
        assert [r.ok for r in results] == [i != 5 for i in range(12)]
    finally:
        pool.close()



def test_humaneval_is_a_one_file_bench_suite() -> None:
    from rewardlab.bench._suite import load_suite

    assert [t.data for t in load_suite("bundled:humaneval").tasks] == ["bundled:humaneval"]
