"""Every error rewardlab raises on purpose.

The tree::

    RewardLabError                      base; the CLI prints it as ``error: ...`` and exits 2
    ├── DataError (ValueError)          a file or row of user data is wrong; names file, line, field
    ├── SpecError (ValueError)          a model spec string cannot be resolved
    │   └── UnknownKindError            ... because its kind is not registered
    ├── ConfigError (ValueError)        a parameter is outside its allowed range
    ├── NotFittedError (ValueError, AttributeError)
    │                                   a trainable model was asked to score before ``fit``
    ├── CapabilityError (TypeError)     a model lacks the capability a command needs
    ├── ModelFormatError (ValueError)   a saved model directory is missing, corrupt or too new
    ├── TrainingError (RuntimeError)    training cannot go on (the loss became NaN or infinite)
    ├── ScoringError (RuntimeError)     a model's ``score`` broke the contract: wrong shape or
    │                                   type, or it raised; names the model and the check
    ├── OutputError (OSError)           an output file or directory cannot be written
    ├── BackendError (ConnectionError)  a model server cannot be reached or refuses every request
    └── MissingDependencyError (ImportError)
                                        an optional dependency is not installed; names the extra

Each class also subclasses the builtin that callers already catch, so code written against
``ValueError`` keeps working. Anything else that escapes rewardlab is a bug.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CapabilityError",
    "ConfigError",
    "DataError",
    "MissingDependencyError",
    "ModelFormatError",
    "NotFittedError",
    "OutputError",
    "RewardLabError",
    "ScoringError",
    "SpecError",
    "TrainingError",
    "UnknownKindError",
]


class RewardLabError(Exception):
    """Base of every error rewardlab raises on purpose."""


class DataError(RewardLabError, ValueError):
    """A file or a row of user data cannot be used.

    The message always starts with where the problem is, so a user can jump to it:
    ``pairs.jsonl:17: field 'chosen': must be a string ...``. ``line`` is the 1-based line of
    the row in text files and the 1-based row number in Parquet files (``location`` says which).

    Args:
        msg: what is wrong and how to fix it.
        file: the file the row came from.
        line: 1-based line (or row) number; ``None`` for problems with the whole file.
        field: the offending field; ``None`` when the row or file as a whole is wrong.
        location: ``"line"`` or ``"row"``, the unit of ``line``.
    """

    def __init__(
        self,
        msg: str,
        *,
        file: str,
        line: int | None = None,
        field: str | None = None,
        location: str = "line",
    ) -> None:
        where = str(file)
        if line is not None:
            where += f":{line}" if location == "line" else f": row {line}"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {msg}")
        self.file, self.line, self.field, self.reason = str(file), line, field, msg


class SpecError(RewardLabError, ValueError):
    """A model spec string cannot be resolved to a model."""


class UnknownKindError(SpecError):
    """The kind before the first ``:`` of a spec is not registered."""


class ConfigError(RewardLabError, ValueError):
    """A parameter is outside its allowed range."""


class NotFittedError(RewardLabError, ValueError, AttributeError):
    """A trainable model was used before it was trained."""


class CapabilityError(RewardLabError, TypeError):
    """A model lacks the capability (fit, save, ...) an operation needs."""


class ModelFormatError(RewardLabError, ValueError):
    """A saved model directory is missing, corrupt, or written by a newer rewardlab."""


class TrainingError(RewardLabError, RuntimeError):
    """Training cannot continue, e.g. the loss became NaN or infinite."""


class ScoringError(RewardLabError, RuntimeError):
    """A model broke the scoring contract: it returned something that is not one float per
    response (a list of the wrong length, a 2-D array, text), or raised an exception that is
    not rewardlab's own. Raised by the one scoring layer, so every consumer (CLI, server,
    adapters, bench) reports the same message naming the model and the check that failed."""


class OutputError(RewardLabError, OSError):
    """An output file or directory cannot be written (permissions, a missing disk, ...)."""


class BackendError(RewardLabError, ConnectionError):
    """A model server (a judge's OpenAI-compatible endpoint) cannot be reached, or refuses
    every request (a bad API key); one failing request gives a NaN reward instead."""


class MissingDependencyError(RewardLabError, ImportError):
    """An optional dependency is missing; the message names the pip extra that installs it."""
