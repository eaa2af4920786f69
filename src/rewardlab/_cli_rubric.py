"""``rewardlab label rubrics`` and ``rewardlab label induce-rubric``, and ``score --rubric``:
rubric generation and induction with a judge (``rewardlab.label.rubrics``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from rewardlab._cli_common import LimitOpt, not_written, on_interrupt, out
from rewardlab.errors import ConfigError
from rewardlab.models.base import RewardModel

__all__ = ["induce_rubric", "label_rubrics", "with_rubric_file"]


def with_rubric_file(model: str | Path | RewardModel, rubric: Path | None
                     ) -> str | Path | RewardModel:
    """``model`` (a ``rubric:`` spec) reading one rubric file for every row
    (``score --rubric FILE``); unchanged without one."""
    if rubric is None:
        return model
    if not isinstance(model, str) or not model.startswith("rubric:"):
        raise ConfigError(f"--rubric applies to rubric: models (e.g. rubric:?agg=gate); "
                          f"'{model}' is not one")
    arg, sep, query = model[len("rubric:"):].partition("?")
    if arg or "file=" in query:
        raise ConfigError(f"'{model}' already names a rubric file; drop it or --rubric")
    return f"rubric:?{query + '&' if sep and query else ''}file={rubric}"


def label_rubrics(
    data: Annotated[str, typer.Argument(help="Rows whose prompts need rubrics (any layout, or "
                                        "bundled:NAME).")],
    judge: Annotated[str, typer.Option(help="The judge that writes them: judge:default, "
                                       "judge:openai:URL#MODEL, ...")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL: the rows with "
                                           "'rubric' and 'rubric_provenance' columns.")],
    min_criteria: Annotated[int, typer.Option(min=1, max=20, help="Fewest criteria per "
                                              "prompt (generic ones fill a short answer).")
                            ] = 3,
    max_criteria: Annotated[int, typer.Option(min=1, max=20, help="Most criteria per prompt.")
                            ] = 7,
    cache_dir: Annotated[Path | None, typer.Option(help="Where each prompt's rubric is cached "
                                                   "(default: the rewardlab cache).")] = None,
    max_tokens: Annotated[int, typer.Option(min=8, help="Longest reply per prompt.")] = 320,
    limit: LimitOpt = None,
) -> None:
    """Have a judge write 3–7 criteria per prompt (cached by prompt hash), for rubric:."""
    from rewardlab.label.rubrics import generate_rubrics

    on_interrupt(not_written(out_file))
    result = generate_rubrics(data, judge=judge, out=out_file, min_criteria=min_criteria,
                              max_criteria=max_criteria, cache_dir=cache_dir, limit=limit,
                              max_tokens=max_tokens)
    out.print(f"wrote {result.n_rows} rows with rubrics for {result.n_prompts} prompts "
              f"({result.asked} asked, {result.cached} from the cache) into "
              f"[bold]{escape(str(result.out))}[/]")
    if result.padded:
        out.print(f"{result.padded} prompts got fewer than {min_criteria} criteria from the "
                  "judge; generic ones filled them (rubric_provenance.generic says how many)")


def induce_rubric(
    pairs: Annotated[str, typer.Argument(help="Preference pairs (prompt, chosen, rejected) "
                                         "or bundled:NAME.")],
    judge: Annotated[str, typer.Option(help="The judge that proposes and answers criteria.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The rubric file to write "
                                           "(.yaml/.yml: YAML, else JSON).")],
    validation: Annotated[float, typer.Option(min=0.01, max=0.99, help="Share of the pairs "
                                              "held out to validate criteria.")] = 0.5,
    propose_pairs: Annotated[int, typer.Option(min=1, help="Pairs the judge proposes "
                                               "criteria from.")] = 8,
    max_candidates: Annotated[int, typer.Option(min=1, help="Candidate criteria evaluated.")
                              ] = 12,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the proposal/validation split.")
                    ] = 0,
    max_tokens: Annotated[int, typer.Option(min=8, help="Longest proposal per pair.")] = 200,
    limit: LimitOpt = None,
) -> None:
    """Propose criteria from pairs, keep those that raise validation accuracy, write one
    rubric file with each kept criterion's validation accuracy."""
    from rewardlab.label.rubrics import induce_rubric as induce

    on_interrupt(not_written(out_file))
    result = induce(pairs, judge=judge, out=out_file, validation=validation,
                    propose_pairs=propose_pairs, max_candidates=max_candidates, seed=seed,
                    limit=limit, max_tokens=max_tokens)
    out.print(f"kept {result.n_kept} of {result.n_candidates} candidate criteria; validation "
              f"accuracy {100 * result.accuracy:.1f}% on {result.n_validation} pairs; wrote "
              f"[bold]{escape(str(result.out))}[/]")
