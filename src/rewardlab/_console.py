"""Rich rendering of results for the terminal. Presentation only: no computation happens here."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from rewardlab.data import SkippedRow
from rewardlab.evaluate.best_of_n import BestOfNResult, BestOfNSummary
from rewardlab.evaluate.pairwise import PairwiseResult, SubsetResult
from rewardlab.evaluate.process import ProcessResult, ProcessSummary

__all__ = [
    "best_of_n_table",
    "evaluation_table",
    "make_console",
    "pairwise_table",
    "print_skipped",
    "process_table",
]


def make_console(*, stderr: bool = False) -> Console:
    """A console that is at least 100 columns wide even when piped, so tables never wrap."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=max(console.width, 100))
    return console


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}"


def _row(s: SubsetResult, name: str, best_length: float) -> list[str]:
    beats = s.accuracy > max(s.longer_wins, s.shorter_wins)
    mark = "[green]✓[/]" if beats and s.ci95[0] > best_length else ("~" if beats else "[red]✗[/]")
    return [
        name,
        str(s.n),
        f"[bold]{_pct(s.accuracy)}[/]",
        f"{_pct(s.ci95[0])}–{_pct(s.ci95[1])}",
        f"{s.mean_margin:+.3f}",
        _pct(s.longer_wins),
        _pct(s.shorter_wins),
        mark,
    ]


def pairwise_table(result: PairwiseResult, title: str | None = None) -> Table:
    """Accuracy (%) per subset with its 95% CI, beside the length-only baselines.

    The last column says whether the model beats both baselines: ✓ when even the CI's lower
    bound does, ~ when only the point estimate does, ✗ when it does not.
    """
    table = Table(title=title or f"{result.model} on {result.data}", title_justify="left")
    for col, justify in (("subset", "left"), ("n", "right"), ("accuracy", "right"),
                         ("95% CI", "right"), ("margin", "right"), ("longer\nwins", "right"),
                         ("shorter\nwins", "right"), ("beats\nlength", "center")):
        table.add_column(col, justify=justify, no_wrap=col != "subset")  # type: ignore[arg-type]
    for s in result.subsets:
        table.add_row(*_row(s, s.name, max(s.longer_wins, s.shorter_wins)))
    if result.subsets:
        table.add_section()
    o = result.overall
    table.add_row(*_row(o, "all", max(o.longer_wins, o.shorter_wins)), style="bold")
    ties = "ties count half" if result.ties == "half" else "ties count as losses"
    table.caption = f"accuracy in %, {ties}; margin = mean reward(chosen) − reward(rejected)"
    if result.judge is not None:
        table.caption += "\n" + _judge_caption(result.judge)
    return table


def _judge_caption(judge: dict[str, float]) -> str:
    """A generative judge's position-bias figures, under its accuracy table."""
    parts = ["judge: chosen shown first in every other pair"]
    if judge.get("swap"):
        parts.append(f"both orders averaged; order consistency "
                     f"{_pct(judge.get('order_consistency', float('nan')))}%")
    parts.append(f"first-shown response wins {_pct(judge['first_shown_wins'])}% of questions")
    if judge.get("no_verdict"):
        parts.append(f"no verdict for {_pct(judge['no_verdict'])}% of pairs")
    if judge.get("truncated"):
        parts.append(f"{_pct(judge['truncated'])}% of prompts cut to fit the context")
    return "; ".join(parts)


def _best_of_n_row(s: BestOfNSummary, name: str) -> list[str]:
    baseline = max(s.random, s.majority)
    beats = s.best_of_n_accuracy > baseline
    mark = "[green]✓[/]" if beats and s.ci95[0] > baseline else ("~" if beats else "[red]✗[/]")
    return [
        name,
        str(s.n),
        f"[bold]{_pct(s.best_of_n_accuracy)}[/]",
        f"{_pct(s.ci95[0])}–{_pct(s.ci95[1])}",
        _pct(s.oracle),
        _pct(s.random),
        _pct(s.majority),
        mark,
        _pct(s.pairwise_accuracy),
        _pct(s.top_ties),
    ]


def best_of_n_table(result: BestOfNResult, title: str | None = None) -> Table:
    """Best-of-n accuracy (%) per subset with its 95% CI, beside the oracle, random and
    majority-vote pickers, and pairwise accuracy on correct-vs-incorrect pairs (its interval
    is in the JSON).

    The "beats" column says whether the model beats both random and majority: ✓ when the
    CI's lower bound does, ~ when only the point estimate does, ✗ when it does not.
    """
    table = Table(title=title or f"{result.model} on {result.data} (best of {result.k})",
                  title_justify="left")
    for col in ("subset", "n", "best\nof n", "95% CI", "oracle", "random", "major-\nity",
                "beats", "pair-\nwise", "top\nties"):
        justify = "left" if col == "subset" else ("center" if col == "beats" else "right")
        table.add_column(col, justify=justify, no_wrap=col != "subset")  # type: ignore[arg-type]
    for s in result.subsets:
        table.add_row(*_best_of_n_row(s, s.name))
    if result.subsets:
        table.add_section()
    table.add_row(*_best_of_n_row(result.overall, "all"), style="bold")
    if result.ties == "half":
        ties = "a tie at the top counts as a random pick among the tied, a pair tie as half"
    else:
        ties = "a tie at the top counts as correct only if all tied are, a pair tie as a loss"
    table.caption = (f"n = problems; in %; {ties}; pairwise = correct scored above incorrect "
                     f"({result.overall.n_pairs} pairs); top ties = problems with a tie at "
                     "the top")
    return table


def _process_row(s: ProcessSummary, name: str) -> list[str]:
    ci = "—" if s.f1_ci95[0] != s.f1_ci95[0] else f"{_pct(s.f1_ci95[0])}–{_pct(s.f1_ci95[1])}"
    return [name, str(s.n), str(s.n_erroneous), f"[bold]{_pct(s.first_error_f1)}[/]", ci,
            _pct(s.acc_erroneous), _pct(s.acc_correct), _pct(s.early), _pct(s.late),
            _pct(s.missed)]


def process_table(result: ProcessResult, title: str | None = None) -> Table:
    """First-error F1 (%) per subset with its 95% CI, the accuracies on erroneous and on
    correct solutions, and how erroneous ones were missed; the trivial baselines below."""
    threshold = "" if result.threshold is None else f", p < {result.threshold:g} is an error"
    table = Table(title=title or f"{result.model} on {result.data} (first error{threshold})",
                  title_justify="left")
    for col in ("subset", "n", "with\nerror", "F1", "95% CI", "acc\nerroneous", "acc\ncorrect",
                "too\nearly", "too\nlate", "missed"):
        table.add_column(col, justify="left" if col == "subset" else "right",
                         no_wrap=col != "subset")
    for s in result.subsets:
        table.add_row(*_process_row(s, s.name))
    if result.subsets:
        table.add_section()
    for s in result.question_types:  # MR-GSM8K's original / reversed / program-of-thought
        table.add_row(*_process_row(s, f"question: {s.name}"))
    if result.question_types:
        table.add_section()
    o = result.overall
    table.add_row(*_process_row(o, "all"), style="bold")
    base = o.baselines
    table.caption = (
        "in %; F1 = harmonic mean of the accuracy on erroneous solutions (first wrong step "
        "found exactly) and on correct ones (none flagged); baselines: always none F1 "
        f"{_pct(base['always_none']['first_error_f1'])}, always step 1 F1 "
        f"{_pct(base['always_first_step']['first_error_f1'])} (acc erroneous "
        f"{_pct(base['always_first_step']['acc_erroneous'])})")
    return table


def evaluation_table(result: PairwiseResult | BestOfNResult | ProcessResult) -> Table:
    """The table for whichever evaluation ``rewardlab eval`` ran."""
    if isinstance(result, ProcessResult):
        return process_table(result)
    if isinstance(result, BestOfNResult):
        return best_of_n_table(result)
    return pairwise_table(result)


def print_skipped(console: Console, skipped: Sequence[SkippedRow], written_to: object = None,
                  *, show: int = 10) -> None:
    """Say how many rows were skipped and why, so nothing is dropped silently."""
    if not skipped:
        return
    where = f"; all written to {written_to}" if written_to else ""
    console.print(f"[yellow]skipped {len(skipped)} row(s){where}:[/]")
    for row in skipped[:show]:
        line = f"line {row.line}" if row.line is not None else "file"
        field = f" field '{row.field}'" if row.field else ""
        console.print(f"  {row.file} {line}{field}: {row.reason}", markup=False)
    if len(skipped) > show:
        console.print(f"  ... and {len(skipped) - show} more")
