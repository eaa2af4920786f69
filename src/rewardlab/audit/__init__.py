"""Audit a reward model for hacking and bias: one probe per module, one report.

Probes (``--probes``): ``length``, ``master-keys``, ``paraphrase``, ``position``,
``label-noise``, ``over-optimisation``, ``calibration``. Each works on any ``RewardModel``
(or says why it does not apply) and returns a ``ProbeResult`` with its deciding figure, the
threshold it is judged by, the numbers behind it and the worst examples; ``audit`` runs them
and writes a self-contained HTML report and a JSON file with the same numbers.

Example:
    >>> from rewardlab.audit import audit
    >>> result = audit("my-rm", "bundled:hh_harmless", html="report.html")  # doctest: +SKIP
"""

from rewardlab.audit._context import DEFAULT_NOISE_RATES, AuditConfig, AuditContext, AuditPair
from rewardlab.audit._results import (
    AuditResult,
    Example,
    ProbeResult,
    ProbeSkipped,
    Threshold,
    Verdict,
)
from rewardlab.audit.runner import PROBES, audit, check_writable, run_audit, select_probes

__all__ = [
    "DEFAULT_NOISE_RATES",
    "PROBES",
    "AuditConfig",
    "AuditContext",
    "AuditPair",
    "AuditResult",
    "Example",
    "ProbeResult",
    "ProbeSkipped",
    "Threshold",
    "Verdict",
    "audit",
    "check_writable",
    "run_audit",
    "select_probes",
]
