"""The pairs ``inspect`` and ``select`` read: labelled (chosen/rejected, in any layout the
loader knows) or unlabelled (a prompt and two replies, ``response_a``/``response_b`` or
AlpacaEval's ``output_1``/``output_2``, optionally with a ``preference`` of 1 or 2 that says
which won and so also where the winner stood).

One parser reads both, row by row through ``rewardlab.data.read_rows``, so a bad row is
skipped with its reason (never dropped) and a file of 200k rows is read once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.data import (
    DEFAULT_MAX_CHARS,
    PairRecord,
    Prompt,
    RowContext,
    SkippedRow,
    detect_task,
    parse_row,
    read_id,
    read_number,
    read_prompt,
    read_subset,
    read_text,
)
from rewardlab.data import read_rows as _read_rows
from rewardlab.errors import DataError

__all__ = ["InspectPair", "PairsRead", "no_pairs_error", "read_pairs"]

#: The two replies of an unlabelled pair, in the order tried.
REPLY_KEYS = (("response_a", "response_b"), ("output_1", "output_2"))


@dataclass(frozen=True, slots=True)
class InspectPair:
    """A pair as ``inspect`` sees it. ``first``/``second`` are the replies in file order
    for unlabelled layouts; for labelled rows ``first`` is the chosen reply.

    ``chosen_first`` is True/False when the layout records where the winner stood, None when
    it does not (chosen/rejected columns carry no order).
    """

    prompt: Prompt
    first: str
    second: str
    id: str | int
    labelled: bool
    chosen_first: bool | None = None
    subset: str | None = None
    line: int | None = None

    @property
    def chosen(self) -> str:
        return self.first if self.chosen_first is not False else self.second

    @property
    def rejected(self) -> str:
        return self.second if self.chosen_first is not False else self.first

    def as_record(self) -> PairRecord:
        """The pair as a ``PairRecord`` (chosen, rejected), for models and scoring."""
        return PairRecord(prompt=self.prompt, chosen=self.chosen, rejected=self.rejected,
                          id=self.id, subset=self.subset, line=self.line)


@dataclass(frozen=True)
class PairsRead:
    pairs: list[InspectPair]
    skipped: list[SkippedRow]
    source: str

    @property
    def labelled(self) -> bool:
        """Whether every pair carries a preference (the flip estimate and confounds need it)."""
        return bool(self.pairs) and all(p.labelled for p in self.pairs)


def _unlabelled(row: dict[str, Any], ctx: RowContext, keys: tuple[str, str]) -> InspectPair:
    found = read_prompt(row, ctx)
    if found is None:
        raise ctx.fail("prompt", "is missing: an unlabelled pair needs 'prompt' and two replies")
    a = read_text(row[keys[0]], ctx, keys[0])
    if keys[1] not in row:
        raise ctx.fail(keys[1], f"is missing: '{keys[0]}' needs its partner '{keys[1]}'")
    b = read_text(row[keys[1]], ctx, keys[1])
    chosen_first: bool | None = None
    labelled = False
    pref = row.get("preference")
    if pref is not None:
        value = read_number(pref, ctx, "preference")
        if round(value) not in (1, 2) or abs(value - round(value)) > 0.01:
            # AlpacaEval's soft preferences near 1.5 are ties: the pair stays unlabelled
            if not 1.0 <= value <= 2.0:
                raise ctx.fail("preference", f"must be 1 (first reply won) or 2 (second "
                                             f"won), got {value:g}")
        else:
            chosen_first, labelled = round(value) == 1, True
    return InspectPair(prompt=found[1], first=a, second=b, id=read_id(row, ctx),
                       labelled=labelled, chosen_first=chosen_first,
                       subset=read_subset(row, ctx), line=ctx.line)


_MARK = "\u2063"  # an invisible separator: makes a side differ just long enough to parse


def _marked(value: Any) -> Any:
    """``value`` (text, or a list of messages) with its last text marked."""
    if isinstance(value, str):
        return value + _MARK
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        last = dict(value[-1])
        last["content"] = str(last.get("content", "")) + _MARK
        return [*value[:-1], last]
    return value


def parse_pair(row: dict[str, Any], ctx: RowContext) -> InspectPair:
    """One row as an ``InspectPair``: the loader's pairwise layouts, or an unlabelled one."""
    for keys in REPLY_KEYS:
        if keys[0] in row:
            return _unlabelled(row, ctx, keys)
    if detect_task(row) != "pairwise":
        raise ctx.fail(None, "is not a pair: give 'chosen'/'rejected' (labelled) or "
                             "'prompt' with 'response_a'/'response_b' (unlabelled)")
    try:
        record, _form = parse_row("pairwise", row, ctx)
    except DataError as exc:
        if exc.field != "rejected" or "identical" not in str(exc):
            raise
        # the loader refuses a pair whose replies are the same; inspect reports it instead
        record, _form = parse_row("pairwise", dict(row, rejected=_marked(row["rejected"])),
                                  ctx)
        return InspectPair(prompt=record.prompt, first=record.chosen, second=record.chosen,
                           id=record.id, labelled=True, subset=record.subset,
                           line=record.line)
    return InspectPair(prompt=record.prompt, first=record.chosen, second=record.rejected,
                       id=record.id, labelled=True, chosen_first=None,
                       subset=record.subset, line=record.line)


def read_pairs(source: str | Path, *, limit: int | None = None,
               max_chars: int = DEFAULT_MAX_CHARS) -> PairsRead:
    """Every row of ``source`` as a pair; bad rows are kept in ``skipped`` with their reason
    (an inspection reports them rather than stopping at the first)."""
    read = _read_rows(source, parse_pair, skip_invalid=True, limit=limit, max_chars=max_chars)
    return PairsRead(pairs=read.records, skipped=read.skipped, source=str(source))


def no_pairs_error(source: str | Path, skipped: list[SkippedRow]) -> DataError:
    """The error for a file none of whose rows is a pair: how many were skipped and where the
    first problem is (line and field), as the loader says it for ``score``/``eval``."""
    why = f"; {skipped[0].as_first_problem()}" if skipped else ""
    return DataError(f"none of its {len(skipped)} rows is a pair{why}", file=str(source))
