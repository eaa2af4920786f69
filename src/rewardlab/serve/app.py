"""The reward server: a FastAPI app over one reward model and one micro-batcher.

Routes:

- ``POST /get_reward``: OpenRLHF's remote reward model (``--remote_rm_url http://HOST:PORT/
  get_reward``), request and response as ``schemas.OpenRLHFRequest`` / ``OpenRLHFResponse``.
- ``POST /v1/score``: rewardlab's typed items; results carry ``uncertainty`` for ensembles.
- ``GET /health``: the model and limits (never needs the token, for load balancers).
- ``GET /metrics``: Prometheus text: requests, latency, batch sizes, bad rewards.

Errors are JSON ``{"detail": ...}`` naming the field and the rule:

======  =============================================================================
status  when
======  =============================================================================
400     the body is not valid JSON, or its Content-Length is not a number
401     ``token`` is set and the request lacks ``Authorization: Bearer <token>``
409     the model is not trained
413     the body, the number of items or one text is over the server's limits
415     ``/get_reward`` without ``Content-Type: application/json``
422     a field has the wrong type, lengths of ``query``/``prompts``/``labels`` differ, a
        query does not contain its prompt, a verifier's reference answer is missing
502     the model broke the scoring contract (wrong shape or type) or raised: the message
        names the model and the check (``ScoringError``); on ``/get_reward`` also a NaN or
        infinite reward (OpenRLHF cannot take a missing reward, and a NaN would poison the
        advantages; the message names the items)
503     the server is shutting down
======  =============================================================================

On ``/v1/score`` a NaN or infinite reward is returned as ``"reward": null`` with an ``error``
on that item (and counted in ``rewardlab_nonfinite_rewards_total``); the other items keep
their rewards. A bug in the server itself (any other exception) is a 500 with the exception
named.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from rewardlab._validation import check_int, check_positive
from rewardlab._version import __version__
from rewardlab.data import (
    DEFAULT_MAX_CHARS,
    Message,
    Prompt,
    lone_surrogate,
    parse_weights,
    reference_text,
)
from rewardlab.errors import (
    CapabilityError,
    ConfigError,
    DataError,
    NotFittedError,
    RewardLabError,
    ScoringError,
    SpecError,
    TrainingError,
)
from rewardlab.models.base import RewardModel
from rewardlab.serve._guard import BodyLimitAndMetrics
from rewardlab.serve._model import ItemConditions, ServedModel, split_query
from rewardlab.serve.batcher import MicroBatcher, ServerClosedError
from rewardlab.serve.metrics import CONTENT_TYPE, ServerMetrics
from rewardlab.serve.schemas import (
    ErrorBody,
    Health,
    OpenRLHFRequest,
    OpenRLHFResponse,
    ScoredItem,
    ScoreRequest,
    ScoreResponse,
)

__all__ = ["ServeConfig", "create_app"]

PATHS = ("/get_reward", "/v1/score", "/health", "/metrics")
_MiB = 1024 * 1024

@dataclass(frozen=True, kw_only=True, slots=True)
class ServeConfig:
    """Batching and limits of a reward server.

    Args:
        token: when set, ``/get_reward``, ``/v1/score`` and ``/metrics`` need
            ``Authorization: Bearer <token>`` (401 otherwise). OpenRLHF's own client sends no
            such header, so serve it on loopback or a private network without a token.
        max_batch: most items per model call; 1 scores every item in a call of its own.
        max_wait_ms: longest an item waits for others to share its model call.
        max_request_items: most items (queries) in one request (413 above). OpenRLHF 0.8
            sends a whole rollout batch (prompts x samples, split over its reward servers) in
            one request; later versions send one sample per request.
        max_body_bytes: largest request body (413 above).
        max_chars: longest single text, as for data files (413 above).
    """

    token: str | None = None
    max_batch: int = 64
    max_wait_ms: float = 5.0
    max_request_items: int = 16384
    max_body_bytes: int = 128 * _MiB
    max_chars: int = DEFAULT_MAX_CHARS

    def __post_init__(self) -> None:
        check_int("ServeConfig", "max_batch", self.max_batch)
        check_positive("ServeConfig", "max_wait_ms", self.max_wait_ms, allow_zero=True)
        check_int("ServeConfig", "max_request_items", self.max_request_items)
        check_int("ServeConfig", "max_body_bytes", self.max_body_bytes)
        check_int("ServeConfig", "max_chars", self.max_chars)
        if self.token is not None and (not isinstance(self.token, str) or not self.token
                                       or self.token != self.token.strip()):
            raise ConfigError("The 'token' parameter of ServeConfig must be a non-empty string "
                              f"without surrounding spaces. Got {self.token!r} instead.")


# --- errors ------------------------------------------------------------------------------------

_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFittedError, 409),
    (DataError, 422), (SpecError, 422), (ConfigError, 422), (CapabilityError, 422),
    (ScoringError, 502), (TrainingError, 502),
)


def _status_of(exc: Exception) -> int:
    return next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "items", 0, "prompt")`` -> ``items[0].prompt``."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _validation_response(errors: Sequence[Any]) -> JSONResponse:
    """400 for a body that is not JSON, else 422 naming every wrong field."""
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        reason = (bad_json.get("ctx") or {}).get("error", "JSON decode error")
        loc = bad_json.get("loc") or ()
        where = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
        return JSONResponse({"detail": f"the body is not valid JSON: {reason}{where}"},
                            status_code=400)
    simple = [{"field": _field(e.get("loc", ())), "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in errors]
    shown = "; ".join(f"{s['field']}: {s['msg']}" for s in simple[:5])
    more = f" (and {len(simple) - 5} more)" if len(simple) > 5 else ""
    return JSONResponse({"detail": shown + more, "errors": simple}, status_code=422)


def _problem(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


class _BadBody(Exception):
    """A request body that cannot be read as its model; carries the finished response."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.body)
        self.response = response


def _read_json(model: type[BaseModel], raw: bytes, content_type: str | None) -> Any:
    """Parse and validate in one pass with pydantic-core's JSON parser.

    ``/get_reward`` is the route RL trainers hit thousands of times a minute; reading its body
    this way costs a fraction of FastAPI's ``json.loads`` + validation + dependency solving,
    and the route still documents the model as its request body (``_json_body``).
    """
    media = (content_type or "").split(";")[0].strip().lower()
    if not (media == "application/json" or (media.startswith("application/")
                                             and media.endswith("+json"))):
        raise _BadBody(JSONResponse({"detail": f"send the body as JSON with the header "
                                               f"'Content-Type: application/json' (got "
                                               f"{content_type or 'none'!r})"},
                                    status_code=415))
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))}
                  for e in exc.errors(include_url=False, include_input=False)]
        raise _BadBody(_validation_response(errors)) from None


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` for a route that reads ``model`` itself."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


_BEARER = HTTPBearer(auto_error=False, description="The token given to rewardlab serve --token.")


# --- request checks ------------------------------------------------------------------------------

def _check_sizes(config: ServeConfig, n: int, field: str,
                 texts: list[tuple[str, list[Any] | None]]) -> None:
    if n > config.max_request_items:
        raise _problem(413, f"'{field}' holds {n} items; this server takes at most "
                            f"{config.max_request_items} per request (rewardlab serve "
                            "--max-request-items). Split the request")
    for name, values in texts:
        for i, text in enumerate(values or ()):
            if isinstance(text, str) and len(text) > config.max_chars:
                raise _problem(413, f"{name.format(i=i)} is {len(text)} characters; this "
                                    f"server takes texts of at most {config.max_chars}")
            surrogate = lone_surrogate(text) if isinstance(text, str) else None
            if surrogate is not None:  # valid JSON escape, not a character: tokenizers refuse it
                raise _problem(422, f"{name.format(i=i)} {surrogate}")


def _reference_text(value: Any, i: int, served: ServedModel) -> str | None:
    """A /v1/score reference as the text the model takes: a list or object (reference tool
    calls) as JSON for a model that takes structured references, else refused."""
    if not isinstance(value, list | dict):
        return value
    if served.structured_references:
        return reference_text(value)
    raise _problem(422, f"items[{i}].reference is a JSON {type(value).__name__}; model "
                        f"'{served.name}' takes one reference answer as text")


def _label_text(value: Any, i: int, model: str, structured: bool = False) -> str:
    if structured and isinstance(value, list | dict):
        return reference_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise _problem(422, f"labels[{i}] is {value}, which is no reference answer; model "
                            f"'{model}' needs each query's label as text or a finite number")
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        got = "missing" if value is None or value == "" else f"a {type(value).__name__}"
        raise _problem(422, f"labels[{i}] is {got}; model '{model}' checks each response "
                            "against a reference answer, so every query needs its label as "
                            "text or a number (OpenRLHF: --label_key)")
    return value if isinstance(value, str) else str(value)


def _check_references(served: ServedModel, references: list[Any], name: str) -> None:
    """Each reference checked by the model (``check_reference``: a verifier's tests, tool
    calls, constraints or rubric) before the request joins a batch: a 422 naming the request
    field (``items[3].reference``, ``labels[3]``), not the item's place in a merged batch."""
    check = getattr(served.model, "check_reference", None)
    if not callable(check):
        return
    for i, reference in enumerate(references):
        if reference is None:
            continue
        where = name.format(i=i)

        def fail(field: str, msg: str, where: str = where) -> HTTPException:
            return _problem(422, f"{where}: {msg}" if field == "reference"
                            else f"{where} ({field}): {msg}")

        check(reference, fail)


def _item_weights(served: ServedModel, weights: dict[str, float] | None, i: int
                  ) -> dict[str, float] | None:
    """An item's weights checked before it joins a batch (a bad one would fail every request
    merged with it): 422 naming the item."""
    if weights is None or not served.takes_weights:
        if weights is not None:
            raise _problem(422, f"items[{i}].weights: model '{served.name}' has no attribute "
                                "heads; weights steer multi: models")
        return None
    try:
        return served.model.check_weights(weights)  # type: ignore[attr-defined]
    except ConfigError as exc:
        raise _problem(422, f"items[{i}].weights: {exc}") from None


def _query_conditions(served: ServedModel, references: list[str | None],
                      weights: list[Any] | None, users: list[str | None] | None) -> list[Any]:
    """``/get_reward``'s per-query ``weights`` / ``users`` beside each reference, checked before
    the queries join a batch: 422 naming the query for a bad one, or for weights sent to a
    model without attribute heads."""
    if not served.takes_weights:
        given = next((i for i, w in enumerate(weights or ()) if w is not None), None)
        if given is not None:
            raise _problem(422, f"weights[{given}]: model '{served.name}' has no attribute "
                                "heads; weights steer multi: models")
    if not (served.takes_weights or served.takes_user):
        return list(references)
    out = []
    for i, reference in enumerate(references):
        w = None if weights is None else weights[i]
        if w is not None:
            try:
                w = served.model.check_weights(  # type: ignore[attr-defined]
                    dict(parse_weights(w, "the weights")))
            except (ConfigError, ValueError) as exc:
                raise _problem(422, f"weights[{i}]: {exc}") from None
        out.append(ItemConditions(reference, w, None if users is None else users[i]))
    return out


def _nonfinite(values: np.ndarray) -> list[int]:
    return np.flatnonzero(~np.isfinite(values)).tolist()


# --- the app -------------------------------------------------------------------------------------

def create_app(model: str | Path | RewardModel, config: ServeConfig | None = None, *,
               warm_up: bool = True) -> FastAPI:
    """The reward server for ``model``, ready for uvicorn (``rewardlab serve`` runs it).

    Args:
        model: a spec (``embed:minilm?...``, ``verify:math``), a saved model directory, or a
            model object.
        config: batching and limits; defaults to ``ServeConfig()``.
        warm_up: score one tiny item now, so an untrained model or a missing dependency
            fails here (``NotFittedError`` ...) rather than on the first request.

    Example:
        >>> app = create_app("verify:math", ServeConfig(max_batch=32), warm_up=False)
        >>> sorted(r.path for r in app.routes if r.path in PATHS)
        ['/get_reward', '/health', '/metrics', '/v1/score']
    """
    config = config or ServeConfig()
    served = ServedModel(model)
    if warm_up:
        served.warm_up()
    metrics = ServerMetrics(PATHS)
    batcher = MicroBatcher(served, max_batch=config.max_batch, max_wait_ms=config.max_wait_ms,
                           metrics=metrics,
                           whole_requests=served.group_dependent)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title="rewardlab reward server", version=__version__, lifespan=lifespan,
                  description=f"Rewards from '{served.name}' for RL trainers (OpenRLHF's "
                              "remote reward model API and rewardlab's own), micro-batched.")
    app.state.served, app.state.batcher, app.state.metrics = served, batcher, metrics
    app.state.config = config
    app.add_middleware(BodyLimitAndMetrics, max_body_bytes=config.max_body_bytes, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def _on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc.errors())

    @app.exception_handler(_BadBody)
    async def _on_bad_body(_: Request, exc: _BadBody) -> JSONResponse:
        return exc.response

    @app.exception_handler(RewardLabError)
    async def _on_rewardlab(_: Request, exc: RewardLabError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status_of(exc))

    @app.exception_handler(ServerClosedError)
    async def _on_closed(_: Request, exc: ServerClosedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(Exception)
    async def _on_bug(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error in the reward server ("
                                       f"{type(exc).__name__}: {exc}); this is a bug"},
                            status_code=500)

    async def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                   Depends(_BEARER)]) -> None:
        """Constant-time comparison, so response timing does not leak the token."""
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), str(config.token).encode()):
            raise HTTPException(401, detail="missing or wrong bearer token: send the header "
                                            "'Authorization: Bearer <token>' with the token "
                                            "the server was started with (--token)",
                                headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(require_token)] if config.token is not None else []
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody} for code in (400, 401, 409, 413, 415, 422, 502, 503)}

    @app.post("/get_reward", response_model=OpenRLHFResponse, dependencies=guarded,
              responses=errors, summary="OpenRLHF remote reward model",
              openapi_extra=_json_body(OpenRLHFRequest))
    async def get_reward(request: Request) -> JSONResponse:
        """Rewards for OpenRLHF queries (prompt + response texts), in their order."""
        body: OpenRLHFRequest = _read_json(OpenRLHFRequest, await request.body(),
                                           request.headers.get("content-type"))
        n = len(body.query)
        _check_sizes(config, n, "query", [("query[{i}]", body.query),
                                          ("prompts[{i}]", body.prompts)])
        for name, values in (("prompts", body.prompts), ("labels", body.labels),
                             ("weights", body.weights), ("users", body.users)):
            if values is not None and len(values) != n:
                raise _problem(422, f"got {n} queries but {len(values)} {name}; '{name}' must "
                                    "hold one entry per query, in the same order (or be left "
                                    "out)")
        if n == 0:  # OpenRLHF 0.8 merges extra_logs by key across servers: keep the keys
            empty_logs = {"uncertainty": []} if served.has_uncertainty else {}
            return JSONResponse({"rewards": [], "scores": [], "extra_logs": empty_logs})
        references: list[str | None] = [None] * n
        if served.needs_references:
            labels = body.labels if body.labels is not None else [None] * n
            references = [_label_text(v, i, served.name, served.structured_references)
                          for i, v in enumerate(labels)]
            _check_references(served, references, "labels[{i}]")
        prompts_in = body.prompts if body.prompts is not None else [None] * n
        pairs = [split_query(q, p, f"query[{i}]")
                 for i, (q, p) in enumerate(zip(body.query, prompts_in, strict=True))]
        slots = _query_conditions(served, references, body.weights, body.users)
        out = await batcher.submit([p for p, _ in pairs], [r for _, r in pairs], slots)
        bad = _nonfinite(out.rewards if out.uncertainty is None
                         else out.rewards + out.uncertainty)
        if bad:
            metrics.nonfinite_rewards += len(bad)
            shown = ", ".join(f"query[{i}]" for i in bad[:10]) + (", ..." if len(bad) > 10
                                                                   else "")
            raise _problem(502, f"model '{served.name}' returned a non-finite reward (or "
                                f"uncertainty) for {len(bad)} of {n} queries ({shown}). No "
                                "rewards are returned: a NaN would poison the advantages. "
                                "Check the model and those inputs")
        rewards = out.rewards.tolist()
        extra: dict[str, list[float]] = {}
        if out.uncertainty is not None:
            extra["uncertainty"] = out.uncertainty.tolist()
        # the hot path for RL trainers: plain finite floats, so the body is written directly
        # rather than re-validated against OpenRLHFResponse (which documents it)
        return JSONResponse({"rewards": rewards, "scores": rewards, "extra_logs": extra})

    @app.post("/v1/score", response_model=ScoreResponse, dependencies=guarded,
              responses=errors, summary="Score prompt/response items")
    async def score_items(body: ScoreRequest) -> ScoreResponse:
        """Rewards (and uncertainty, for ensembles) for prompt/response items, in order."""
        items = body.items
        n = len(items)
        _check_sizes(config, n, "items", [
            ("items[{i}].response", [it.response for it in items]),
            ("items[{i}].prompt", [it.prompt if isinstance(it.prompt, str) else
                                   "".join(m.content for m in it.prompt) for it in items]),
            ("items[{i}].reference", [_reference_text(it.reference, i, served)
                                      for i, it in enumerate(items)])])
        if n == 0:
            return ScoreResponse(model=served.name, results=[])
        if served.needs_references:
            missing = next((i for i, it in enumerate(items)
                            if it.reference is None or it.reference == ""), None)
            if missing is not None:
                raise _problem(422, f"items[{missing}].reference is missing; model "
                                    f"'{served.name}' checks each response against a "
                                    "reference answer")
            if not getattr(served.model, "structured_references", False):
                obj = next((i for i, it in enumerate(items) if isinstance(it.reference, dict)),
                           None)
                if obj is not None:
                    raise _problem(422, f"items[{obj}].reference is a JSON object; model "
                                        f"'{served.name}' takes its reference answer as text")
        prompts: list[Prompt] = [it.prompt if isinstance(it.prompt, str) else
                                 tuple(Message(m.role, m.content) for m in it.prompt)
                                 for it in items]
        slots: list[Any] = [_reference_text(it.reference, i, served)
                            for i, it in enumerate(items)]
        if served.needs_references:
            _check_references(served, slots, "items[{i}].reference")
        if served.takes_weights or served.takes_user:
            slots = [ItemConditions(slots[i], _item_weights(served, it.weights, i), it.user)
                     for i, it in enumerate(items)]
        else:
            given = next((i for i, it in enumerate(items) if it.weights is not None), None)
            if given is not None:
                raise _problem(422, f"items[{given}].weights: model '{served.name}' has no "
                                    "attribute heads; weights steer multi: models")
        out = await batcher.submit(prompts, [it.response for it in items], slots)
        results = []
        for i, reward in enumerate(out.rewards.tolist()):
            u = None if out.uncertainty is None else out.uncertainty[i].item()
            if not math.isfinite(reward):
                metrics.nonfinite_rewards += 1
                results.append(ScoredItem(reward=None, uncertainty=None, error=(
                    f"model '{served.name}' returned {reward} for this item")))
            elif u is not None and not math.isfinite(u):
                metrics.nonfinite_rewards += 1
                results.append(ScoredItem(reward=reward, uncertainty=None, error=(
                    f"model '{served.name}' returned uncertainty {u} for this item")))
            else:
                results.append(ScoredItem(reward=reward, uncertainty=u))
            if out.details is not None and out.details[i] is not None:
                info = out.details[i]
                results[-1].rewards_by_attribute = info.get("rewards_by_attribute")
                results[-1].user_fit = info.get("user_fit")
        return ScoreResponse(model=served.name, results=results)

    @app.get("/health", response_model=Health, summary="Model and limits")
    async def health() -> Health:
        """Always open (no token), so load balancers and orchestrators can probe it."""
        return Health(status="ok", model=served.name, needs_references=served.needs_references,
                      has_uncertainty=served.has_uncertainty, max_batch=config.max_batch,
                      max_wait_ms=config.max_wait_ms,
                      max_request_items=config.max_request_items,
                      queued_items=batcher.queued_items)

    @app.get("/metrics", response_class=PlainTextResponse, dependencies=guarded,
             responses={401: {"model": ErrorBody}}, summary="Prometheus metrics")
    async def prometheus() -> PlainTextResponse:
        """Counters and histograms in Prometheus' text format."""
        text = metrics.render({"rewardlab_queued_items": (
            "Items waiting for a model call.", lambda: batcher.queued_items)})
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    return app
