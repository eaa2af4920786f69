"""Defects a preference set should not have: repeated pairs, near repeats, the same pair
labelled both ways, and pairs whose two replies are the same.

* exact duplicates: the same prompt, first and second reply, byte for byte (each row after
  the first of its group counts);
* near duplicates: the same pair once case, punctuation and whitespace are ignored, or whose
  two sides' MiniLM embeddings (last user turn + reply, read as one text) both have cosine
  ``>= threshold`` with another row's, in either orientation (rows already counted as exact
  duplicates or contradictions are not counted again);
* contradictions: the same pair (whitespace normalised) labelled both ways — each row
  that reverses an earlier one counts;
* identical pairs: chosen == rejected after normalising whitespace.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.data import last_user_turn, render_prompt
from rewardlab.inspection._pairs import InspectPair

__all__ = ["DefectReport", "find_defects", "normalise", "squash"]

_SPACE = re.compile(r"\s+")
#: every Unicode punctuation character (category P*) of the basic plane, mapped to a space:
#: ``str.translate`` with it is ~50x faster than a per-character category test
_PUNCTUATION = {cp: " " for cp in range(0x10000)
                if unicodedata.category(chr(cp)).startswith("P")}


def squash(text: str) -> str:
    """Whitespace collapsed and trimmed: what counts as "the same text" for contradictions."""
    return _SPACE.sub(" ", text).strip()


def normalise(text: str) -> str:
    """Case, punctuation and whitespace ignored: what counts as a near duplicate by edit.

    Example:
        >>> normalise("Hello,   World!") == normalise("hello world")
        True
    """
    return squash(text.casefold().translate(_PUNCTUATION))


def _digest(*parts: str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


@dataclass(frozen=True)
class PairKeys:
    """What a streaming pass keeps of a row: digests, not texts (16 bytes each)."""

    exact: bytes
    norm: bytes
    norm_swapped: bytes
    squashed: bytes
    squashed_swapped: bytes
    identical: bool


def pair_keys(p: InspectPair) -> PairKeys:
    prompt = render_prompt(p.prompt)
    a, b = p.chosen, p.rejected
    np_, na, nb = normalise(prompt), normalise(a), normalise(b)
    sp, sa, sb = squash(prompt), squash(a), squash(b)
    return PairKeys(exact=_digest(prompt, a, b), norm=_digest(np_, na, nb),
                    norm_swapped=_digest(np_, nb, na), squashed=_digest(sp, sa, sb),
                    squashed_swapped=_digest(sp, sb, sa), identical=sa == sb)


@dataclass
class DefectReport:
    """Each check: the row ids involved; ``near_pairs`` says which row each near duplicate
    resembles and how closely (cosine, 1.0 for an edit-level match)."""

    exact_duplicates: list[Any] = field(default_factory=list)
    near_duplicates: list[Any] = field(default_factory=list)
    near_pairs: list[tuple[Any, Any, float, str]] = field(default_factory=list)
    contradictions: list[Any] = field(default_factory=list)
    contradiction_pairs: list[tuple[Any, Any]] = field(default_factory=list)
    identical_pairs: list[Any] = field(default_factory=list)
    embedding_note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "exact_duplicates": {"count": len(self.exact_duplicates),
                                 "ids": self.exact_duplicates},
            "near_duplicates": {"count": len(self.near_duplicates), "ids": self.near_duplicates,
                                "pairs": [{"id": a, "of": b, "similarity": round(s, 4),
                                           "how": how} for a, b, s, how in self.near_pairs],
                                "note": self.embedding_note},
            "contradictions": {"count": len(self.contradictions), "ids": self.contradictions,
                               "pairs": [{"id": a, "reverses": b}
                                         for a, b in self.contradiction_pairs]},
            "identical_pairs": {"count": len(self.identical_pairs),
                                "ids": self.identical_pairs},
        }


def find_defects_from_keys(ids: Sequence[Any], keys: Sequence[PairKeys], *,
                           labelled: bool | Sequence[bool]) -> tuple[DefectReport, set[int]]:
    """The checks that need only digests (constant memory per row, so they stream).

    ``labelled``: for the whole file or per row; a contradiction needs both rows labelled,
    and a row without a label matches its swapped copy as a near duplicate instead.

    Returns the report and the row indices already explained (exact duplicates and
    contradictions), which the embedding pass leaves out.
    """
    lab = [labelled] * len(keys) if isinstance(labelled, bool) else [bool(x) for x in labelled]
    report = DefectReport()
    first_exact: dict[bytes, int] = {}
    first_norm: dict[bytes, int] = {}
    first_squashed: dict[bytes, int] = {}
    explained: set[int] = set()
    for i, k in enumerate(keys):
        if k.identical:
            report.identical_pairs.append(ids[i])
        if k.exact in first_exact:
            report.exact_duplicates.append(ids[i])
            explained.add(i)
            continue
        first_exact[k.exact] = i
        if lab[i] and lab[first_squashed.get(k.squashed_swapped, i)] and \
                k.squashed_swapped in first_squashed and not k.identical:
            j = first_squashed[k.squashed_swapped]
            report.contradictions.append(ids[i])
            report.contradiction_pairs.append((ids[i], ids[j]))
            explained.add(i)
        first_squashed.setdefault(k.squashed, i)
        if i in explained:
            continue
        j = first_norm.get(k.norm)
        if j is None and not lab[i]:
            j = first_norm.get(k.norm_swapped)
        if j is not None:
            report.near_duplicates.append(ids[i])
            report.near_pairs.append((ids[i], ids[j], 1.0, "same text up to case, punctuation "
                                                          "and whitespace"))
            explained.add(i)
        first_norm.setdefault(k.norm, i)
    return report, explained


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def embedding_near_duplicates(report: DefectReport, ids: Sequence[Any], chosen: np.ndarray,
                              rejected: np.ndarray, explained: set[int], *,
                              threshold: float, block: int = 2048) -> None:
    """Add rows whose both sides' embeddings have cosine >= ``threshold`` with an earlier
    row's (same orientation or swapped), in blocks so memory stays ``block x n``."""
    c, r = _unit(chosen.astype(np.float32)), _unit(rejected.astype(np.float32))
    n = len(ids)
    for start in range(0, n, block):
        stop = min(n, start + block)
        same = np.minimum(c[start:stop] @ c.T, r[start:stop] @ r.T)
        swap = np.minimum(c[start:stop] @ r.T, r[start:stop] @ c.T)
        sim = np.maximum(same, swap)
        for row in range(stop - start):
            i = start + row
            if i in explained or i == 0:
                continue
            earlier = sim[row, :i]
            j = int(np.argmax(earlier))
            if earlier[j] >= threshold:
                how = "embeddings" + (" (replies swapped)" if swap[row, j] > same[row, j]
                                      else "")
                report.near_duplicates.append(ids[i])
                report.near_pairs.append((ids[i], ids[j], float(earlier[j]), how))
                explained.add(i)


def side_texts(pairs: Sequence[InspectPair]) -> tuple[list[str], list[str], list[str]]:
    """(last user turn, chosen, rejected) texts: what the embeddings read."""
    turns = [last_user_turn(p.prompt) for p in pairs]
    return turns, [p.chosen for p in pairs], [p.rejected for p in pairs]


def find_defects(pairs: Sequence[InspectPair], *, encoder: Any | None = None,
                 threshold: float = 0.97, max_embedded: int = 50_000) -> DefectReport:
    """Every defect check on ``pairs``; ``encoder`` (a ``SentenceEncoder``) adds the
    embedding pass for near duplicates (skipped, with a note, beyond ``max_embedded`` rows)."""
    ids = [p.id for p in pairs]
    report, explained = find_defects_from_keys(ids, [pair_keys(p) for p in pairs],
                                               labelled=[p.labelled for p in pairs])
    if encoder is None:
        report.embedding_note = "embedding check off: near duplicates by edits only"
    elif len(pairs) > max_embedded:
        report.embedding_note = (f"embedding check skipped: {len(pairs):,} rows is over "
                                 f"{max_embedded:,}; near duplicates by edits only")
    else:
        turns, chosen, rejected = side_texts(pairs)
        embedding_near_duplicates(report, ids, encoder.embed_joined(turns, chosen),
                                  encoder.embed_joined(turns, rejected), explained,
                                  threshold=threshold)
        report.embedding_note = (f"MiniLM cosine >= {threshold:g} on both sides (last user "
                                 "turn + reply)")
    return report
