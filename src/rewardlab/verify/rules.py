"""Instruction constraints checked by rule: ``max_words``, ``contains``, ``regex``, ``json``, ...

One implementation serves ``verify:rules`` (a row's ``constraints`` list) and the
deterministic criteria of ``rubric:`` (a criterion whose ``kind`` is a constraint type), so a
word limit means the same thing in both. A constraint is ``{"type": ..., "value": ...}``;
``parse_constraint`` validates it up front (a regex that does not compile, an invalid JSON
schema, an unknown type and a missing value are errors naming the field), and
``Constraint.check`` returns whether a response passes with the reason when it does not.

Counting rules (documented because every benchmark counts a little differently):

- a *word* is a run of non-space characters holding at least one letter or digit
  (``"e-mail"`` is one word, a lone ``"-"`` none);
- a *sentence* ends at ``.``, ``!`` or ``?`` (runs of them count once) followed by a space or
  the end; text after the last end mark is a sentence too;
- a *bullet* is a line starting (after indentation) with ``-``, ``*``, ``+`` or ``•`` and a
  space, or with ``1.`` / ``1)`` and a space (Markdown lists);
- ``contains`` / ``not_contains`` match substrings, ignoring case unless
  ``"case_sensitive": true``; a list value means every keyword (``contains``) or none of them
  (``not_contains``);
- ``regex`` is ``re.search`` (``^`` anchors at the start of the response; ``"flags": "ims"``
  adds IGNORECASE / MULTILINE / DOTALL);
- ``json``: the response (or its only fenced code block) parses as JSON; a ``value`` that is
  an object is a JSON Schema the document must satisfy (``true``: any JSON);
- ``starts_with`` / ``ends_with`` compare the response with surrounding whitespace removed;
- ``case``: ``upper`` / ``lower`` (every letter), ``title`` (every word starts upper-case);
- ``language``: langdetect's ISO 639-1 code (``en``, ``fr``, ``zh-cn``), seeded so the same
  text always gets the same answer.

Example:
    >>> c = parse_constraint({"type": "max_words", "value": 3})
    >>> c.check("one two three four")
    Check(passed=False, reason='max_words: 4 words, more than 3')
    >>> check_all(parse_constraints([{"type": "contains", "value": "Paris"}]), "In paris.")
    [Check(passed=True, reason=None)]
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardlab.errors import ConfigError

__all__ = [
    "CONSTRAINT_TYPES",
    "Check",
    "Constraint",
    "check_all",
    "count_bullets",
    "count_sentences",
    "count_words",
    "parse_constraint",
    "parse_constraints",
    "split_sentences",
]

#: Every constraint type, with what its ``value`` must be.
CONSTRAINT_TYPES: dict[str, str] = {
    "max_words": "a whole number >= 0",
    "min_words": "a whole number >= 0",
    "max_sentences": "a whole number >= 1",
    "contains": "a keyword or a non-empty list of keywords",
    "not_contains": "a keyword or a non-empty list of keywords",
    "regex": "a regular expression (Python syntax)",
    "json": "true (any JSON) or a JSON Schema object",
    "bullet_count": "a whole number, or an object with 'min' and/or 'max'",
    "case": "'upper', 'lower' or 'title'",
    "starts_with": "a non-empty string",
    "ends_with": "a non-empty string",
    "language": "an ISO 639-1 code as langdetect names it ('en', 'fr', 'zh-cn', ...)",
}
#: Extra fields a constraint may carry besides ``type`` and ``value``.
_EXTRA = {"contains": {"case_sensitive"}, "not_contains": {"case_sensitive"},
          "regex": {"flags"}}
_CASES = ("upper", "lower", "title")
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}

Fail = Callable[[str, str], Exception]


def _config_fail(where: str, msg: str) -> Exception:
    return ConfigError(f"field '{where}': {msg}")


@dataclass(frozen=True, slots=True)
class Check:
    """One constraint checked on one response: ``reason`` says why it failed (None: passed)."""

    passed: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Constraint:
    """A validated constraint; build it with ``parse_constraint``.

    Attributes:
        type: one of ``CONSTRAINT_TYPES``.
        value: the parameter, normalised (a keyword list is a tuple, a bullet count a
            ``(min, max)`` pair).
        options: the extra fields (``case_sensitive``, ``flags``).
    """

    type: str
    value: Any
    options: dict[str, Any] = field(default_factory=dict)
    _compiled: Any = field(default=None, repr=False, compare=False)

    def check(self, response: str) -> Check:
        """Whether ``response`` meets the constraint, and why not."""
        return _CHECKS[self.type](self, response)

    def to_json(self) -> dict[str, Any]:
        """The constraint as written: ``{"type", "value", ...options}``."""
        value = self.value
        if self.type == "bullet_count":
            lo, hi = value
            value = lo if lo == hi else {k: v for k, v in (("min", lo), ("max", hi))
                                         if v is not None}
        elif isinstance(value, tuple):
            value = list(value)
        return {"type": self.type, "value": value, **self.options}


# --- parsing ---------------------------------------------------------------------------------

def parse_constraints(items: Any, *, field: str = "constraints",
                      fail: Fail = _config_fail) -> list[Constraint]:
    """A list of constraint objects, each validated (``parse_constraint``).

    Args:
        items: the list; a JSON text of one is read first (CSV cells, served labels).
        field: the name errors give the list (``constraints`` -> ``constraints[2].value``).
        fail: builds the error from (field, message); a data reader passes its row context's
            so the message names the file and line.
    """
    if isinstance(items, str):
        try:
            items = json.loads(items)
        except json.JSONDecodeError as exc:
            raise fail(field, f"is text that is not a JSON list of constraints ({exc.msg} at "
                              f"character {exc.pos})") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise fail(field, "must be a non-empty list of {\"type\", \"value\"} constraint "
                          f"objects, got {_type_name(items)}")
    return [parse_constraint(item, field=f"{field}[{i}]", fail=fail)
            for i, item in enumerate(items)]


def parse_constraint(item: Any, *, field: str = "constraint", fail: Fail = _config_fail,
                     type_key: str = "type", allowed: frozenset[str] = frozenset()
                     ) -> Constraint:
    """One constraint object, validated: a known ``type``, a ``value`` of the right shape, a
    regex that compiles, a JSON Schema that is valid.

    Args:
        type_key: the key naming the type (a rubric criterion names it ``kind``).
        allowed: other keys the caller's object may carry (a criterion's ``text``, ``weight``).
    """
    if not isinstance(item, dict):
        raise fail(field, f"must be an object with 'type' and 'value', got {_type_name(item)}")
    kind = item.get(type_key)
    if kind not in CONSTRAINT_TYPES:
        raise fail(f"{field}.{type_key}", f"unknown constraint type {kind!r}; known: "
                                          f"{', '.join(CONSTRAINT_TYPES)}")
    extra = set(item) - {type_key, "value"} - _EXTRA.get(kind, set()) - allowed
    if extra:
        takes = ", ".join(repr(k) for k in ("value", *sorted(_EXTRA.get(kind, ()))))
        raise fail(f"{field}.{sorted(extra)[0]}", f"is not a field of a '{kind}' constraint; "
                                                  f"it takes {takes}")
    if "value" not in item or item["value"] is None:
        raise fail(f"{field}.value", f"is missing; a '{kind}' constraint needs "
                                     f"{CONSTRAINT_TYPES[kind]}")
    options = {k: item[k] for k in _EXTRA.get(kind, set()) if k in item}
    where = f"{field}.value"
    value, compiled = _parse_value(kind, item["value"], options, where, field, fail)
    return Constraint(kind, value, options, compiled)


def _parse_value(kind: str, value: Any, options: dict[str, Any], where: str, field: str,
                 fail: Fail) -> tuple[Any, Any]:
    rule = CONSTRAINT_TYPES[kind]

    def bad(got: str | None = None) -> Exception:
        return fail(where, f"must be {rule}, got {got or repr(value)}")

    if kind in ("max_words", "min_words", "max_sentences"):
        if not _is_int(value) or value < (1 if kind == "max_sentences" else 0):
            raise bad()
        return value, None
    if kind in ("contains", "not_contains"):
        words = [value] if isinstance(value, str) else value
        if (not isinstance(words, list) or not words
                or not all(isinstance(w, str) and w for w in words)):
            raise bad()
        sensitive = options.get("case_sensitive", False)
        if not isinstance(sensitive, bool):
            raise fail(f"{field}.case_sensitive", f"must be true or false, got {sensitive!r}")
        return tuple(words), None
    if kind == "regex":
        if not isinstance(value, str) or not value:
            raise bad()
        flags = options.get("flags", "")
        if not isinstance(flags, str) or set(flags) - set(_FLAGS):
            raise fail(f"{field}.flags", f"must be letters of 'ims', got {flags!r}")
        bits = 0
        for letter in flags:
            bits |= _FLAGS[letter]
        try:
            return value, re.compile(value, bits)
        except re.error as exc:
            raise fail(where, f"is not a valid regular expression: {exc}") from None
    if kind == "json":
        if value is True:
            return True, None
        if not isinstance(value, dict):
            raise bad()
        return value, _schema_validator(value, where, fail)
    if kind == "bullet_count":
        if _is_int(value) and value >= 0:
            return (value, value), None
        if isinstance(value, dict) and value and set(value) <= {"min", "max"}:
            lo, hi = value.get("min"), value.get("max")
            if all(v is None or (_is_int(v) and v >= 0) for v in (lo, hi)) and (
                    lo is None or hi is None or lo <= hi):
                return (lo, hi), None
        raise bad()
    if kind == "case":
        if value not in _CASES:
            raise bad()
        return value, None
    if kind in ("starts_with", "ends_with"):
        if not isinstance(value, str) or not value.strip():
            raise bad()
        return value.strip(), None
    # language
    if not isinstance(value, str) or value.lower() not in _languages():
        raise fail(where, f"must be {rule}; {value!r} is not one of langdetect's "
                          f"{len(_languages())} languages")
    return value.lower(), None


def _schema_validator(schema: dict[str, Any], where: str, fail: Fail) -> Any:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        raise fail(where, f"is not a valid JSON Schema: {exc.message}"
                          f"{f' (at {path})' if path else ''}") from None
    return cls(schema)


_LANGS: frozenset[str] | None = None
_LANG_LOCK = threading.Lock()


def _languages() -> frozenset[str]:
    global _LANGS
    if _LANGS is None:
        from pathlib import Path

        import langdetect

        profiles = Path(langdetect.__file__).parent / "profiles"
        _LANGS = frozenset(p.name for p in profiles.iterdir())
    return _LANGS


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# --- counting --------------------------------------------------------------------------------

_WORD = re.compile(r"\S*[^\W_]\S*")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+")
_BULLET = re.compile(r"^[ \t]*(?:[-*+\u2022]|\d+[.)])[ \t]+\S", re.MULTILINE)


def count_words(text: str) -> int:
    """Runs of non-space characters holding a letter or digit."""
    return len(_WORD.findall(text))


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split after ``.``/``!``/``?`` and a space; blank ones
    dropped). Newlines that end a line without punctuation end a sentence too (list items,
    headings)."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def count_sentences(text: str) -> int:
    """How many sentences ``split_sentences`` finds."""
    return len(split_sentences(text))


def count_bullets(text: str) -> int:
    """Markdown list items: lines starting with ``-``/``*``/``+``/``•`` or ``1.``/``1)``."""
    return len(_BULLET.findall(text))


# --- checks ----------------------------------------------------------------------------------

def _ok(passed: bool, reason: str) -> Check:
    return Check(True) if passed else Check(False, reason)


def _max_words(c: Constraint, text: str) -> Check:
    n = count_words(text)
    return _ok(n <= c.value, f"max_words: {n} words, more than {c.value}")


def _min_words(c: Constraint, text: str) -> Check:
    n = count_words(text)
    return _ok(n >= c.value, f"min_words: {n} words, fewer than {c.value}")


def _max_sentences(c: Constraint, text: str) -> Check:
    n = count_sentences(text)
    return _ok(n <= c.value, f"max_sentences: {n} sentences, more than {c.value}")


def _keywords(c: Constraint, text: str) -> list[str]:
    """The constraint's keywords found in ``text``."""
    if c.options.get("case_sensitive"):
        return [w for w in c.value if w in text]
    low = text.casefold()
    return [w for w in c.value if w.casefold() in low]


def _contains(c: Constraint, text: str) -> Check:
    found = set(_keywords(c, text))
    missing = [w for w in c.value if w not in found]
    return _ok(not missing, f"contains: missing {', '.join(map(repr, missing))}")


def _not_contains(c: Constraint, text: str) -> Check:
    found = _keywords(c, text)
    return _ok(not found, f"not_contains: has {', '.join(map(repr, found))}")


def _regex(c: Constraint, text: str) -> Check:
    return _ok(c._compiled.search(text) is not None,
               f"regex: no match for {c.value!r}")


_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)


def _json(c: Constraint, text: str) -> Check:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        return Check(False, f"json: not valid JSON ({exc.msg} at line {exc.lineno} column "
                            f"{exc.colno})")
    if c._compiled is None:
        return Check(True)
    error = next(iter(c._compiled.iter_errors(doc)), None)
    if error is None:
        return Check(True)
    path = "/".join(str(p) for p in error.absolute_path)
    return Check(False, f"json: does not match the schema: {error.message}"
                        f"{f' (at {path})' if path else ''}")


def _bullet_count(c: Constraint, text: str) -> Check:
    n, (lo, hi) = count_bullets(text), c.value
    if lo == hi:
        return _ok(n == lo, f"bullet_count: {n} bullets, not {lo}")
    if lo is not None and n < lo:
        return Check(False, f"bullet_count: {n} bullets, fewer than {lo}")
    return _ok(hi is None or n <= hi, f"bullet_count: {n} bullets, more than {hi}")


def _case(c: Constraint, text: str) -> Check:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return Check(False, f"case: no letters to be {c.value} case")
    if c.value == "upper":
        bad = sum(ch.islower() for ch in letters)
    elif c.value == "lower":
        bad = sum(ch.isupper() for ch in letters)
    else:
        words = [w for w in _WORD.findall(text) if w[0].isalpha()]
        bad = sum(not w[0].isupper() for w in words)
        return _ok(bad == 0, f"case: {bad} words do not start upper-case")
    return _ok(bad == 0, f"case: {bad} letters are not {c.value} case")


def _starts_with(c: Constraint, text: str) -> Check:
    body = text.strip()
    return _ok(body.startswith(c.value), f"starts_with: starts {body[:len(c.value) + 10]!r}, "
                                         f"not {c.value!r}")


def _ends_with(c: Constraint, text: str) -> Check:
    body = text.strip()
    return _ok(body.endswith(c.value), f"ends_with: ends {body[-len(c.value) - 10:]!r}, "
                                       f"not {c.value!r}")


def _language(c: Constraint, text: str) -> Check:
    if not any(ch.isalpha() for ch in text):
        return Check(False, f"language: no words to detect {c.value!r} in")
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    with _LANG_LOCK:  # the seed is global state of langdetect's factory
        DetectorFactory.seed = 0
        try:
            found = detect(text)
        except LangDetectException as exc:
            return Check(False, f"language: cannot detect the language ({exc})")
    return _ok(found == c.value, f"language: detected {found!r}, not {c.value!r}")


_CHECKS: dict[str, Callable[[Constraint, str], Check]] = {
    "max_words": _max_words,
    "min_words": _min_words,
    "max_sentences": _max_sentences,
    "contains": _contains,
    "not_contains": _not_contains,
    "regex": _regex,
    "json": _json,
    "bullet_count": _bullet_count,
    "case": _case,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "language": _language,
}


def check_all(constraints: Sequence[Constraint], response: str) -> list[Check]:
    """Every constraint checked on ``response``, in order."""
    if not isinstance(response, str):
        raise ConfigError(f"a response must be text, got {_type_name(response)}")
    return [c.check(response) for c in constraints]
