"""Batch scoring at scale on Ray: files of any size, streamed in shards, resumable.

``score_distributed`` cuts a JSONL or Parquet file into fixed row ranges (shards), scores
them with a Ray Data actor pool whose workers load the model once and read and write their
shards themselves, and verifies that every input row is in the output exactly once. The
output directory holds a job manifest, so a rerun resumes the same job and refuses to mix
in another's. ``docs/ray.md`` describes the layout and the multi-node setup.
"""

from rewardlab.scale._cluster import ClusterError, check_reachable
from rewardlab.scale._job import DistributedScoreResult, score_distributed
from rewardlab.scale._plan import DEFAULT_SHARD_ROWS, JobPlan, Shard, plan_job
from rewardlab.scale._shard import OUTPUT_FORMATS, ShardJob, score_shard
from rewardlab.scale._train import run_ray

__all__ = [
    "DEFAULT_SHARD_ROWS",
    "OUTPUT_FORMATS",
    "ClusterError",
    "DistributedScoreResult",
    "JobPlan",
    "Shard",
    "ShardJob",
    "check_reachable",
    "plan_job",
    "run_ray",
    "score_distributed",
    "score_shard",
]
