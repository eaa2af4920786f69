"""``rewardlab bench``: a RewardBench-style table over suites of local data sets, with
bootstrap intervals, length-only baselines, paired significance tests between models, and a
score cache that makes re-runs cost only new rows."""

from rewardlab.bench._cache import ScoreCache, model_fingerprint
from rewardlab.bench._data import is_rewardbench2_row, load_task_data, read_rewardbench2
from rewardlab.bench._render import bench_html, bench_summary, bench_tables, write_bench_html
from rewardlab.bench._results import (
    BenchResult,
    Comparison,
    ModelResult,
    RowResult,
    SectionResult,
)
from rewardlab.bench._runner import TIES, run_bench
from rewardlab.bench._stats import (
    combine_strata,
    overall_score,
    paired_p_value,
    percentile_ci,
    replicate_scores,
    section_scores,
)
from rewardlab.bench._suite import (
    BENCH_TASKS,
    RB1_EXAMPLE_COUNTS,
    RB1_SECTION_WEIGHTS,
    RB1_SUBSET_SECTIONS,
    Suite,
    SuiteTask,
    bundled_suites,
    data_file_suite,
    load_suite,
)

__all__ = [
    "BENCH_TASKS",
    "RB1_EXAMPLE_COUNTS",
    "RB1_SECTION_WEIGHTS",
    "RB1_SUBSET_SECTIONS",
    "TIES",
    "BenchResult",
    "Comparison",
    "ModelResult",
    "RowResult",
    "ScoreCache",
    "SectionResult",
    "Suite",
    "SuiteTask",
    "bench_html",
    "bench_summary",
    "bench_tables",
    "bundled_suites",
    "combine_strata",
    "data_file_suite",
    "is_rewardbench2_row",
    "load_suite",
    "load_task_data",
    "model_fingerprint",
    "overall_score",
    "paired_p_value",
    "percentile_ci",
    "read_rewardbench2",
    "replicate_scores",
    "run_bench",
    "section_scores",
    "write_bench_html",
]
