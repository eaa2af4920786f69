"""The server's counters and histograms, rendered in Prometheus' text exposition format.

The format is a few lines of text (``# HELP``, ``# TYPE``, then ``name{label="v"} value``;
histograms as cumulative ``_bucket{le=...}`` lines plus ``_sum`` and ``_count``), so it is
written here rather than adding ``prometheus_client`` and its process-global registry, which
would make two servers in one process (tests, notebooks) share counters.

Every update happens on the server's event loop thread (request middleware and the
micro-batcher's worker), so no locking is needed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

__all__ = ["CONTENT_TYPE", "Histogram", "ServerMetrics"]

#: The media type Prometheus scrapers expect for the text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Request latency buckets, seconds: a reward call that takes more than a few seconds stalls
#: an RL rollout, so resolution is spent below that.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Items per model call: powers of two up to the largest batch anyone configures.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Histogram:
    """A Prometheus histogram: counts per upper bound, plus the sum and count of observations.

    Example:
        >>> h = Histogram((1, 2))
        >>> h.observe(1); h.observe(3)
        >>> print("\\n".join(h.lines("size")))
        size_bucket{le="1"} 1
        size_bucket{le="2"} 1
        size_bucket{le="+Inf"} 2
        size_sum 4
        size_count 2
    """

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * len(self.buckets)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation in every bucket whose bound it does not exceed."""
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
                break
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: dict[str, str] | None = None) -> list[str]:
        """The ``_bucket`` (cumulative), ``_sum`` and ``_count`` lines."""
        labels = labels or {}
        out, running = [], 0
        for bound, n in zip(self.buckets, self.counts, strict=True):
            running += n
            out.append(f"{name}_bucket{_labels({**labels, 'le': _number(bound)})} {running}")
        out.append(f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {self.count}")
        out.append(f"{name}_sum{_labels(labels)} {_number(self.sum)}")
        out.append(f"{name}_count{_labels(labels)} {self.count}")
        return out


class ServerMetrics:
    """What ``GET /metrics`` reports: requests, latency, micro-batches and bad rewards.

    Args:
        paths: the routes counted under their own name; any other path is counted as
            ``other``, so a scanner probing random URLs cannot grow the label set.
    """

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = frozenset(paths)
        self.requests: Counter[tuple[str, str]] = Counter()
        self.latency: dict[str, Histogram] = {}
        self.batch_items = Histogram(BATCH_BUCKETS)
        self.model_seconds = Histogram(LATENCY_BUCKETS)
        self.items_total = 0
        self.batch_failures = 0
        self.nonfinite_rewards = 0

    def path_label(self, path: str) -> str:
        return path if path in self.paths else "other"

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        """Count a finished request and its latency (from first byte read to response sent)."""
        label = self.path_label(path)
        self.requests[(label, str(status))] += 1
        self.latency.setdefault(label, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def observe_batch(self, items: int, seconds: float, *, failed: bool = False) -> None:
        """Count one model call of ``items`` items (a micro-batch)."""
        self.batch_items.observe(items)
        self.model_seconds.observe(seconds)
        self.items_total += items
        self.batch_failures += int(failed)

    def render(self, gauges: dict[str, tuple[str, Callable[[], float]]] | None = None) -> str:
        """The metrics as Prometheus text; ``gauges`` maps name -> (help, current value)."""
        out: list[str] = []

        def head(name: str, kind: str, text: str) -> None:
            out.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}"])

        head("rewardlab_requests_total", "counter", "HTTP requests by path and status code.")
        for (path, status), n in sorted(self.requests.items()):
            out.append(f"rewardlab_requests_total{_labels({'path': path, 'status': status})} {n}")
        head("rewardlab_request_duration_seconds", "histogram",
             "Time from receiving a request to sending its response.")
        for path in sorted(self.latency):
            out.extend(self.latency[path].lines("rewardlab_request_duration_seconds",
                                                {"path": path}))
        head("rewardlab_batch_items", "histogram",
             "Items per model call (micro-batch); _count is the number of model calls.")
        out.extend(self.batch_items.lines("rewardlab_batch_items"))
        head("rewardlab_model_call_seconds", "histogram", "Duration of one model call.")
        out.extend(self.model_seconds.lines("rewardlab_model_call_seconds"))
        head("rewardlab_scored_items_total", "counter", "Items scored by the model.")
        out.append(f"rewardlab_scored_items_total {self.items_total}")
        head("rewardlab_batch_failures_total", "counter",
             "Model calls that raised (their requests got an error).")
        out.append(f"rewardlab_batch_failures_total {self.batch_failures}")
        head("rewardlab_nonfinite_rewards_total", "counter",
             "NaN or infinite rewards the model returned (reported, never sent as numbers).")
        out.append(f"rewardlab_nonfinite_rewards_total {self.nonfinite_rewards}")
        for name, (text, value) in (gauges or {}).items():
            head(name, "gauge", text)
            out.append(f"{name} {_number(value())}")
        return "\n".join(out) + "\n"
