"""The front-door functions of ``inspect``, ``select`` and ``forecast``: read, run, write.

They live here rather than in ``rewardlab.api`` because the audit (whose forecast and report
machinery they use) itself builds on ``api``; ``api`` importing them back would close an
import cycle (``tests/test_layers.py``). Nothing here prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardlab._io import check_outputs, write_json, write_jsonl
from rewardlab.api import load_data
from rewardlab.data import Dataset
from rewardlab.errors import OutputError
from rewardlab.models._clone import clone
from rewardlab.models.base import RewardModel, Trainable, describe, require_capability
from rewardlab.models.registry import resolve

__all__ = ["forecast", "inspect_data", "select_to_label"]


def inspect_data(data: str | Path, *, model: str | None = "embed:minilm",
                 html: str | Path | None = None, json_out: str | Path | None = None,
                 limit: int | None = None, **settings: Any) -> Any:
    """Inspect a preference set before training (``rewardlab.inspection.inspect_pairs``):
    defects, confounds, an estimated label-flip rate; writes ``json_out`` / ``html``.

    ``settings`` are ``InspectConfig`` fields (``folds``, ``stream``, ``embeddings``, ...).
    """
    from rewardlab._io import _atomic_lines
    from rewardlab.inspection import InspectConfig, inspect_pairs
    from rewardlab.inspection._html import inspect_html

    check_outputs({"--html": html, "--json": json_out}, {"DATA": data})
    report = inspect_pairs(data, InspectConfig(model=model, **settings), limit=limit)
    doc = report.to_json()
    if json_out is not None:
        write_json(json_out, doc)
    if html is not None:
        _atomic_lines(Path(html), [inspect_html(doc)])
    return report


def forecast(model: str | Path | RewardModel, data: str | Path | Dataset[Any], *,
             gold: str | Path | RewardModel | None = None, fit_max_k: int | None = None,
             html: str | Path | None = None, json_out: str | Path | None = None,
             n_boot: int = 200, seed: int = 0, limit: int | None = None) -> Any:
    """Fit Gao et al.'s best-of-n form to the proxy ``model``'s best-of-k points on
    best-of-n ``data`` (gold: ``is_correct`` or a ``gold`` model) and say where the gold is
    predicted to peak (``rewardlab.audit.forecast``)."""
    from rewardlab._io import _atomic_lines
    from rewardlab.audit.forecast import forecast as run_forecast
    from rewardlab.inspection._html import forecast_html

    check_outputs({"--html": html, "--json": json_out}, {"DATA": data})
    dataset = load_data(data, format="best-of-n", limit=limit)
    result = run_forecast(resolve(model), dataset, gold=None if gold is None else resolve(gold),
                          fit_max_k=fit_max_k, n_boot=n_boot, seed=seed)
    if json_out is not None:
        write_json(json_out, result.to_json())
    if html is not None:
        _atomic_lines(Path(html), [forecast_html(result.to_json(), result.plot(),
                                                 describe(resolve(model)), str(data))])
    return result


def select_to_label(unlabelled: str | Path, model: str | Path | RewardModel, *, budget: int,
                    out: str | Path, strategy: str = "bald", diverse: bool = False,
                    train_data: str | Path | None = None, members: int = 5, seed: int = 0,
                    label_studio: str | Path | None = None) -> Any:
    """Rank unlabelled pairs by what an ensemble does not know and write the ``budget`` best
    to ``out`` (CSV or JSONL, with scores and the reason) and a Label Studio import file.

    The ensemble: an ``ensemble:`` model's members; or, with ``train_data``, ``members``
    copies of ``model`` trained on bootstrap resamples of it; or ``model`` alone (entropy).
    """
    import csv
    import io

    import numpy as np

    from rewardlab._io import _atomic_lines
    from rewardlab.data import render_prompt
    from rewardlab.inspection import read_pairs
    from rewardlab.inspection.selection import (
        bootstrap_members,
        member_margins,
        select_pairs,
    )
    from rewardlab.models._clone import Composite

    out = Path(out)
    ls_path = Path(label_studio) if label_studio else out.with_name(out.stem + ".labelstudio.json")
    check_outputs({"--out": out, "--label-studio": ls_path},
                  {"UNLABELLED": unlabelled, "--train": train_data})
    read = read_pairs(unlabelled)
    pool = read.pairs
    if not pool:
        raise OutputError(f"{unlabelled}: no pair could be read; {len(read.skipped)} row(s) "
                          "were skipped")
    if budget > len(pool):
        from rewardlab.errors import ConfigError

        raise ConfigError(f"the budget ({budget}) is larger than the pool of {len(pool)} "
                          f"unlabelled pair(s) in {unlabelled}; lower --budget to at most "
                          f"{len(pool)}")
    records = [p.as_record() for p in pool]
    rm = resolve(model)
    if train_data is not None:
        require_capability(rm, Trainable, "be trained into an ensemble")
        labelled = load_data(train_data, format="pairwise")
        team = bootstrap_members(lambda s: clone(rm, seed=s), labelled, members, seed=seed)
    elif isinstance(rm, Composite):
        team = list(rm.submodels)
    else:
        team = [rm]
    margins = member_margins(team, records)
    picked = select_pairs(margins, budget, strategy=strategy, diverse=diverse, records=records,
                          seed=seed)
    rows = []
    for rank, i in enumerate(picked.indices):
        p = pool[i]
        rows.append({"rank": rank + 1, "id": p.id, "line": p.line,
                     "prompt": render_prompt(p.prompt), "response_a": p.first,
                     "response_b": p.second, "score": float(picked.scores[i]),
                     "mean_p_a": float(np.mean(1 / (1 + np.exp(-margins[:, i])))),
                     "reason": picked.reason(rank)})
    if out.suffix.lower() == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        _atomic_lines(out, [buf.getvalue()])
    else:
        write_jsonl(out, rows)
    tasks = [{"data": {k: r[k] for k in ("id", "prompt", "response_a", "response_b")},
              "meta": {"score": r["score"], "reason": r["reason"]}} for r in rows]
    write_json(ls_path, tasks)
    return {"selected": rows, "out": str(out), "label_studio": str(ls_path),
            "skipped": read.skipped, "members": len(team), "pool": len(pool)}
