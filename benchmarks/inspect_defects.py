"""Planted defects in HH: does ``inspect`` find them all, and how often does it cry wolf?

Plants into the 1,812 HH harmless pairs 50 exact duplicates, 50 near duplicates (whitespace,
casing and punctuation edits of both replies), 20 contradictions (a pair repeated with its
labels swapped) and 10 identical pairs (chosen == rejected). Targets: every planted row
found by its check; <= 2% of the unmodified set flagged by any defect check. Also times a
full ``inspect`` (defects with MiniLM embeddings, confounds, the cross-fitted flip estimate)
of the unmodified 1,812 pairs with a warm embedding cache: target <= 60 s.

Prints one JSON line.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

from rewardlab.data import bundled_path
from rewardlab.inspection import InspectConfig, inspect_pairs

CHECKS = ("exact_duplicates", "near_duplicates", "contradictions", "identical_pairs")


def _edit(text: str, rng: random.Random) -> str:
    """A whitespace, casing or punctuation edit, as a copy-paste or a re-export makes."""
    kind = rng.choice(("space", "case", "punct"))
    if kind == "space":
        return text.replace(" ", "  ", 2) + " "
    if kind == "case":
        words = text.split(" ")
        # plain words only: "Human:" / "Assistant:" are the format's markers, not text
        plain = [i for i, w in enumerate(words) if w.isalpha()] or [len(words) - 1]
        i = rng.choice(plain)
        words[i] = words[i].upper() if words[i].islower() else words[i].lower()
        return " ".join(words)
    for p in ".,?!":
        if p in text:
            return text.replace(p, "", 1)
    return text + "."


def main() -> None:
    import sys

    timing = "--no-timing" not in sys.argv
    rng = random.Random(0)
    rows = [json.loads(line) for line in bundled_path("hh_harmless").read_text().splitlines()]
    rows = [dict(r, id=f"hh-{i}") for i, r in enumerate(rows)]
    planted: dict[str, list[str]] = {k: [] for k in CHECKS}
    picks = rng.sample(range(len(rows)), 130)
    extra = []
    for j, i in enumerate(picks[:50]):
        extra.append(dict(rows[i], id=f"exact-{j}"))
        planted["exact_duplicates"].append(f"exact-{j}")
    for j, i in enumerate(picks[50:100]):
        # the shared dialogue is edited once (as a re-export would), each reply on its own
        c, r = rows[i]["chosen"], rows[i]["rejected"]
        cut_c, cut_r = c.rindex("\n\nAssistant:"), r.rindex("\n\nAssistant:")
        head = _edit(c[:cut_c], rng) if c[:cut_c] == r[:cut_r] else None
        if head is None:
            chosen, rejected = _edit(c, rng), _edit(r, rng)
        else:
            chosen = head + _edit(c[cut_c:], rng)
            rejected = head + _edit(r[cut_r:], rng)
        extra.append(dict(rows[i], id=f"near-{j}", chosen=chosen, rejected=rejected))
        planted["near_duplicates"].append(f"near-{j}")
    for j, i in enumerate(picks[100:120]):
        extra.append(dict(rows[i], id=f"contra-{j}", chosen=rows[i]["rejected"],
                          rejected=rows[i]["chosen"]))
        planted["contradictions"].append(f"contra-{j}")
    for j, i in enumerate(picks[120:130]):
        extra.append(dict(rows[i], id=f"same-{j}", rejected=rows[i]["chosen"]))
        planted["identical_pairs"].append(f"same-{j}")
    mixed = rows + extra
    # planted rows come after their originals, so the planted copy is the one reported
    with tempfile.TemporaryDirectory() as tmp:
        clean_path, mixed_path = Path(tmp, "clean.jsonl"), Path(tmp, "mixed.jsonl")
        clean_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        mixed_path.write_text("".join(json.dumps(r) + "\n" for r in mixed))
        cfg = InspectConfig(model=None)
        found = inspect_pairs(mixed_path, cfg).to_json()
        clean = inspect_pairs(clean_path, cfg).to_json()
        start, cpu = time.perf_counter(), time.process_time()
        full = inspect_pairs(clean_path, InspectConfig()) if timing else None
        full_seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu
    recall = {k: sum(1 for i in planted[k] if i in set(found[k]["ids"])) / len(planted[k])
              for k in CHECKS}
    flagged_clean = set()
    for k in CHECKS:
        flagged_clean |= set(clean[k]["ids"])
    # a planted row flagged by another check than its own (e.g. a near copy of a planted
    # exact copy) is not a miss; rows of the original set flagged are false alarms
    stray = sorted({i for k in CHECKS for i in found[k]["ids"] if i.startswith("hh-")})
    print(json.dumps({
        "benchmark": "inspect_defects", "pairs": len(rows), "planted": {k: len(v) for k, v in
                                                                        planted.items()},
        "recall": recall, "all_found": all(v == 1.0 for v in recall.values()),
        "false_alarm_rate_clean": round(len(flagged_clean) / len(rows), 4),
        "false_alarms_clean": sorted(flagged_clean)[:20],
        "original_rows_flagged_in_planted_set": len(stray),
        "missed": {k: sorted(set(planted[k]) - set(found[k]["ids"])) for k in CHECKS},
        "inspect_full_seconds_warm": round(full_seconds, 1) if timing else None,
        "inspect_full_cpu_seconds": round(cpu_seconds, 1) if timing else None,
        "flip_estimate_clean": full.flip.to_json() if full and full.flip else None,
        "note": "timed on a 2-core machine shared with other jobs"}))


if __name__ == "__main__":
    main()
