"""``rewardlab label rubrics`` and ``rewardlab label induce-rubric``, and ``score --rubric``:
rubric generation and induction with a judge (``rewardlab.label.rubrics``)."""

from __future__ import annotations

from pathlib import Path

from rewardlab.errors import ConfigError
from rewardlab.models.base import RewardModel

__all__ = ["with_rubric_file"]


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
