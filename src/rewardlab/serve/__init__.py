"""An HTTP reward server for RL trainers: OpenRLHF's remote reward model API plus rewardlab's
own, with dynamic micro-batching across concurrent requests.

``rewardlab serve MODEL`` runs it; in Python::

    from rewardlab.serve import ServeConfig, create_app, run
    run(create_app("my-rm", ServeConfig(max_batch=64, max_wait_ms=5)), port=8000)

then point OpenRLHF at it with ``--remote_rm_url http://HOST:8000/get_reward``. See
``rewardlab.serve.app`` for the routes and the status codes, ``rewardlab.serve.batcher`` for
how requests are merged into model calls.
"""

from rewardlab.serve._model import ServedModel, split_query
from rewardlab.serve.app import ServeConfig, create_app
from rewardlab.serve.batcher import BatchScores, MicroBatcher, ServerClosedError
from rewardlab.serve.metrics import ServerMetrics
from rewardlab.serve.runner import BackgroundServer, check_port, run
from rewardlab.serve.schemas import (
    ChatMessage,
    OpenRLHFRequest,
    OpenRLHFResponse,
    ScoredItem,
    ScoreItem,
    ScoreRequest,
    ScoreResponse,
)

__all__ = [
    "BackgroundServer",
    "BatchScores",
    "ChatMessage",
    "MicroBatcher",
    "OpenRLHFRequest",
    "OpenRLHFResponse",
    "ScoreItem",
    "ScoreRequest",
    "ScoreResponse",
    "ScoredItem",
    "ServeConfig",
    "ServedModel",
    "ServerClosedError",
    "ServerMetrics",
    "check_port",
    "create_app",
    "run",
    "split_query",
]
