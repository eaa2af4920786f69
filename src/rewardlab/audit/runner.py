"""Run the selected probes on one model and data set, and write the reports.

Bad input never stops the other probes: an unknown probe name, a probe that does not apply
to the model (position bias on a model that is not a judge, label noise on one that cannot be
trained), or data a probe needs but cannot have (best-of-n data without a gold signal) each
becomes a *skipped* entry with its reason, and the audit goes on. What does stop it, before
any work is done: a model or data set that cannot be loaded at all, and an output path that
cannot be written.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from rewardlab._io import check_outputs, write_json
from rewardlab._progress import progress
from rewardlab.audit import (
    calibration,
    label_noise,
    length,
    master_keys,
    overoptimisation,
    paraphrase,
    position,
)
from rewardlab.audit._context import AuditConfig, AuditContext
from rewardlab.audit._results import AuditResult, ProbeResult, ProbeSkipped
from rewardlab.data import Dataset
from rewardlab.errors import OutputError, RewardLabError
from rewardlab.models.base import RewardModel, describe
from rewardlab.models.registry import resolve

__all__ = ["PROBES", "audit", "check_writable", "model_views", "run_audit", "select_probes"]

#: probe name -> module (each has NAME, TITLE, THRESHOLD and ``run(ctx)``), in report order
PROBES: dict[str, ModuleType] = {m.NAME: m for m in (
    length, master_keys, paraphrase, position, label_noise, overoptimisation, calibration)}


def select_probes(names: tuple[str, ...] | None) -> tuple[list[str], list[ProbeResult]]:
    """The known probe names asked for (all when ``names`` is None), and a skipped result
    for every unknown one, naming the closest known name."""
    if names is None:
        return list(PROBES), []
    known, unknown = [], []
    for raw in names:
        name = raw.strip().lower().replace("_", "-")
        if name in PROBES:
            if name not in known:
                known.append(name)
            continue
        close = difflib.get_close_matches(name, list(PROBES), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        unknown.append(ProbeResult.skipped(
            raw, raw, f"no probe named '{raw}'{hint}; known probes: {', '.join(PROBES)}"))
    return known, unknown


def check_writable(path: str | Path) -> Path:
    """Raise ``OutputError`` unless a file can be written at ``path`` (checked by creating
    and removing a temporary file beside it), so a bad path fails before any work."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _run_one(module: ModuleType, ctx: AuditContext) -> ProbeResult:
    start = time.perf_counter()
    try:
        result: ProbeResult = module.run(ctx)
    except ProbeSkipped as exc:
        return ProbeResult.skipped(module.NAME, module.TITLE, str(exc))
    except RewardLabError as exc:  # bad input for this probe only: the others still run
        return ProbeResult.skipped(module.NAME, module.TITLE, f"{type(exc).__name__}: {exc}")
    return dataclasses.replace(result, seconds=time.perf_counter() - start)


def run_audit(model: RewardModel, data: Dataset[Any], *, config: AuditConfig | None = None,
              on_probe: Callable[[ProbeResult], None] | None = None) -> AuditResult:
    """Run the probes ``config.probes`` (all by default) on ``model`` and ``data``.

    ``config.best_of_n`` and ``config.gold`` are loaded here; when either cannot be, the
    over-optimisation probe is skipped with the loader's message and the rest still run.
    ``on_probe`` is called with each result as it is ready.
    """
    from rewardlab._version import __version__
    from rewardlab.data import load_data

    config = config or AuditConfig()
    start = time.perf_counter()
    names, unknown = select_probes(config.probes)
    best_of_n, gold, load_problem = None, None, None
    if "over-optimisation" in names:
        try:
            if config.best_of_n is not None:
                best_of_n = load_data(config.best_of_n)
                if best_of_n.task != "best-of-n":
                    raise ProbeSkipped(f"--best-of-n {best_of_n.source} holds "
                                       f"{best_of_n.task} data, not best-of-n rows")
            if config.gold is not None:
                gold = resolve(config.gold)
        except (RewardLabError, ProbeSkipped) as exc:
            load_problem = str(exc)
    ctx = AuditContext(model=model, data=data, config=config, best_of_n=best_of_n, gold=gold)
    results: list[ProbeResult] = []
    with progress("audit", total=len(names)) as advance:
        for name in names:
            module = PROBES[name]
            if name == "over-optimisation" and load_problem is not None:
                result = ProbeResult.skipped(name, module.TITLE, load_problem)
            else:
                result = _run_one(module, ctx)
            results.append(result)
            if on_probe is not None:
                on_probe(result)
            advance(1)
    for result in unknown:
        results.append(result)
        if on_probe is not None:
            on_probe(result)
    settings = {**config.to_json(), "n_pairs": len(ctx.pairs), "data_task": data.task,
                "responses_scored": ctx.scored}
    return AuditResult(model=describe(model), data=data.source, probes=tuple(results),
                       settings=settings, seconds=time.perf_counter() - start,
                       version=__version__, views=model_views(model, data))


def model_views(model: RewardModel, data: Dataset[Any]) -> dict[str, dict[str, Any]]:
    """For a multi: model, each attribute's reward distribution on the pairs; for a
    personal: model on pairs with users, accuracy against k (``evaluate.personal``). Empty for
    other models and data."""
    from rewardlab.evaluate.pairwise import evaluate_pairwise
    from rewardlab.evaluate.personal import can_adapt
    from rewardlab.models.base import AttributeScorer

    if data.task != "pairwise" or not data.records:
        return {}
    has_users = any(r.user is not None for r in data.records)
    if not isinstance(model, AttributeScorer) and not (can_adapt(model) and has_users):
        return {}
    result = evaluate_pairwise(model, data, n_boot=500)
    views = {"attributes": result.attributes, "users": result.accuracy_vs_k}
    return {k: v for k, v in views.items() if v}


def audit(model: str | Path | RewardModel, data: str | Path | Dataset[Any], *,
          config: AuditConfig | None = None, html: str | Path | None = None,
          json_out: str | Path | None = None, limit: int | None = None,
          on_probe: Callable[[ProbeResult], None] | None = None) -> AuditResult:
    """Audit ``model`` on ``data`` and write the HTML and JSON reports asked for.

    Output paths are checked first, so an unwritable one, or one that is an input file (the
    data, ``config.best_of_n``), fails (``OutputError``) before any model is loaded or scored.

    Example:
        >>> result = audit("my-rm", "bundled:hh_harmless", html="audit.html",
        ...                json_out="audit.json")  # doctest: +SKIP
        >>> [(p.name, p.verdict) for p in result.probes]  # doctest: +SKIP
    """
    from rewardlab.audit.report import render_html
    from rewardlab.data import load_data

    check_outputs({"--html": html, "--json": json_out},
                  {"DATA": data, "--best-of-n": config.best_of_n if config else None})
    for path in (html, json_out):
        if path is not None:
            check_writable(path)
    rm = resolve(model)
    dataset = load_data(data, limit=limit)
    result = run_audit(rm, dataset, config=config, on_probe=on_probe)
    if json_out is not None:
        write_json(json_out, result.to_json())
    if html is not None:
        from rewardlab._io import _atomic_lines

        _atomic_lines(Path(html), [render_html(result)])
    return result
