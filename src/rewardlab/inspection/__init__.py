"""Know a preference set before training on it: ``inspect`` (defects, confounds, an
estimated label-flip rate) and ``select`` (which unlabelled pairs to label next).

A consumer of ``scoring``: it reads pairs through ``rewardlab.data``, embeds texts with the
cached MiniLM encoder and cross-fits trainable models; the over-optimisation forecast lives
with the audit (``rewardlab.audit.forecast``). The front-door functions that read, run and
write (``inspect_data``, ``select_to_label``, ``forecast``) are in ``rewardlab.api``.
"""

from rewardlab.inspection._pairs import InspectPair, PairsRead, read_pairs
from rewardlab.inspection.flips import FlipEstimate, estimate_flip_rate, fit_flip_rate
from rewardlab.inspection.report import InspectConfig, InspectReport, inspect_pairs

__all__ = [
    "FlipEstimate",
    "InspectConfig",
    "InspectPair",
    "InspectReport",
    "PairsRead",
    "estimate_flip_rate",
    "fit_flip_rate",
    "inspect_pairs",
    "read_pairs",
]
