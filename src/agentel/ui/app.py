"""The Starlette application of ``agentel ui``: pages, the JSON API and the security rules.

Every query goes through the :class:`~agentel.store.Store` API and runs in Starlette's
thread pool, each thread on its own SQLite connection, so a slow query (a large stats range,
a full-text filter) never holds up other requests. Everything is read-only except feedback,
which needs a same-origin JSON POST carrying the page's CSRF token.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

try:  # the ui extra brings it; the json module is the fallback
    import orjson
except ImportError:  # pragma: no cover - exercised by the no-orjson test
    orjson = None  # type: ignore[assignment]

from agentel.store import (
    AmbiguousIdError,
    NotFoundError,
    QueryError,
    Store,
    StoreError,
    open_store,
)
from agentel.store.base import redact_url
from agentel.store.query import parse_time
from agentel.store.where import WhereError
from agentel.ui.shell import (
    PAGES,
    SECURITY_HEADERS,
    STATIC,
    UIConfig,
    host_name,
    page_html,
)

logger = logging.getLogger("agentel.ui")

TOKEN_COOKIE = "agentel_ui_token"
CSRF_HEADER = "x-agentel-csrf"
MAX_LIMIT = 1000
MAX_SPANS = 100_000
MAX_BODY = 16 * 1024
TOTALS_PAGE = 2000
RUN_FILTERS = (
    "agent",
    "status",
    "since",
    "until",
    "model",
    "provider",
    "tool",
    "conversation",
    "user",
    "service",
    "min_cost",
    "min_duration",
    "errors",
    "text",
    "where",
)
SPAN_FILTERS = (
    "trace_id",
    "run_id",
    "category",
    "operation",
    "tool",
    "model",
    "status",
    "since",
    "until",
)


WATERFALL_FIELDS = (
    "span_id",
    "parent_span_id",
    "name",
    "category",
    "status",
    "start_time",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)
"""What each row of the run page's waterfall shows (and how rows nest)."""


class BadRequest(Exception):
    """A request the API cannot answer as asked: 400 with the message."""


class Stores:
    """The store for the calling thread: one per thread for SQLite (its connection is guarded
    by one lock), one shared object for the backends that are safe across threads."""

    def __init__(self, config: UIConfig) -> None:
        self._given = config.store
        self._url = config.store_url
        self._per_thread = self._given is None and (self._url or "").startswith("sqlite:")
        self._local = threading.local()
        self._opened: list[Store] = []
        self._guard = threading.RLock()
        self._shared: Store | None = self._given

    @property
    def url(self) -> str:
        return self._given.url if self._given is not None else (self._url or "")

    def get(self) -> Store:
        if self._per_thread:
            store = getattr(self._local, "store", None)
            if store is None:
                store = self._open()
                self._local.store = store
            return store
        with self._guard:
            if self._shared is None:
                self._shared = self._open()
            return self._shared

    def _open(self) -> Store:
        store = open_store(self._url)
        with self._guard:
            self._opened.append(store)
        return store

    def ingest_store(self) -> Store:
        """A store of its own for the OTLP receiver (its writes never wait on a reader)."""
        if self._given is not None:
            return self._given
        return self._open()

    def close(self) -> None:
        with self._guard:
            opened, self._opened = self._opened, []
        for store in opened:
            store.close()


# --- query parameters -------------------------------------------------------------------------
def _params(request: Request, allowed: Iterable[str], repeatable: Iterable[str] = ()) -> dict:
    """The query parameters, each given once (except ``repeatable``); unknown ones are refused."""
    allowed, repeatable = set(allowed), set(repeatable)
    found: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key == "token":
            continue
        if key not in allowed:
            raise BadRequest(
                f"unknown parameter {key!r}; this endpoint takes {', '.join(sorted(allowed))}"
            )
        if key in repeatable:
            found.setdefault(key, []).append(value)
        elif key in found:
            raise BadRequest(f"parameter {key!r} given more than once")
        else:
            found[key] = value
    return {k: v for k, v in found.items() if v != ""}


def _int(params: dict, name: str, default: int, low: int, high: int) -> int:
    value = params.pop(name, None)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer; got {value!r}") from None
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}; got {number}")
    return number


def _run_filters(params: dict) -> dict[str, Any]:
    """``Store.runs`` keyword arguments from query parameters (validated by the store)."""
    filters: dict[str, Any] = {}
    for key in RUN_FILTERS:
        if key not in params:
            continue
        value = params.pop(key)
        if key == "min_cost":
            try:
                filters["min_cost"] = float(value)
            except ValueError:
                raise BadRequest(f"min_cost must be a number; got {value!r}") from None
        elif key == "errors":
            if value not in ("true", "false"):
                raise BadRequest(f"errors must be true or false; got {value!r}")
            filters["has_error"] = value == "true"
        else:
            filters[key] = value
    return filters


def _body_json(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY:
        raise BadRequest(f"request body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


# --- the API ----------------------------------------------------------------------------------
def _totals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": len(runs),
        "running": sum(r["status"] == "running" for r in runs),
        "errors": sum(r["status"] == "error" for r in runs),
        "llm_calls": sum(r["llm_calls"] for r in runs),
        "tool_calls": sum(r["tool_calls"] for r in runs),
        "input_tokens": sum(r["input_tokens"] for r in runs),
        "output_tokens": sum(r["output_tokens"] for r in runs),
        "cost_usd": sum(r["cost_usd"] for r in runs),
        "unpriced_calls": sum(r["unpriced_calls"] for r in runs),
    }


class API:
    """The JSON endpoints; each method runs in the thread pool with the thread's store."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def meta(self, request: Request) -> dict[str, Any]:
        _params(request, ())
        from importlib.metadata import version

        return {"store": redact_url(self.stores.url), "version": version("agentel")}

    def runs(self, request: Request) -> dict[str, Any]:
        params = _params(request, (*RUN_FILTERS, "limit", "offset", "order_by"))
        limit = _int(params, "limit", 50, 1, MAX_LIMIT)
        offset = _int(params, "offset", 0, 0, 10**9)
        order_by = params.pop("order_by", "start")
        filters = _run_filters(params)
        store = self.stores.get()
        found = store.runs(**filters, limit=limit + 1, offset=offset, order_by=order_by)
        return {
            "runs": found[:limit],
            "limit": limit,
            "offset": offset,
            "order_by": order_by,
            "more": len(found) > limit,
        }

    def totals(self, request: Request) -> dict[str, Any]:
        """Sums over every run of the filter, read a page at a time: 100,000 runs never sit in
        memory at once."""
        filters = _run_filters(_params(request, RUN_FILTERS))
        store = self.stores.get()
        sums = _totals([])
        offset = 0
        while True:
            page = store.runs(**filters, limit=TOTALS_PAGE, offset=offset)
            for key, value in _totals(page).items():
                sums[key] += value
            if len(page) < TOTALS_PAGE:
                return sums
            offset += TOTALS_PAGE

    def run(self, request: Request) -> dict[str, Any]:
        _params(request, ())
        store = self.stores.get()
        run = store.run(request.path_params["run_id"])
        return {**run, "spans": store.run_tree(run["run_id"])}

    def waterfall(self, request: Request) -> dict[str, Any]:
        """The run and its spans' ``WATERFALL_FIELDS``, flat in start order: what the run page
        draws. A clicked span's attributes, events and content come from :meth:`span`."""
        _params(request, ())
        store = self.stores.get()
        run = store.run(request.path_params["run_id"])
        spans = store.spans(run_id=run["run_id"], fields=WATERFALL_FIELDS)
        return {**run, "spans": spans}

    def span(self, request: Request) -> dict[str, Any]:
        _params(request, ())
        path = request.path_params
        return self.stores.get().span(path["trace_id"], path["span_id"])

    def replay(self, request: Request) -> list[dict[str, Any]]:
        params = _params(request, ("type", "since", "until"), repeatable=("type",))
        return self.stores.get().replay(
            request.path_params["run_id"],
            types=params.get("type"),
            since=params.get("since"),
            until=params.get("until"),
        )

    def spans(self, request: Request) -> list[dict[str, Any]]:
        params = _params(request, (*SPAN_FILTERS, "limit"))
        limit = _int(params, "limit", 1000, 1, MAX_SPANS)
        return self.stores.get().spans(**params, limit=limit)

    def stats(self, request: Request) -> list[dict[str, Any]]:
        params = _params(request, ("by", "since", "until"))
        return self.stores.get().stats(
            params.get("by", "model"), since=params.get("since"), until=params.get("until")
        )

    def daily(self, request: Request) -> dict[str, Any]:
        """Per UTC day in [since, until): ``stats(by)`` rows, for charts stacked by model."""
        params = _params(request, ("by", "since", "until"))
        by = params.get("by", "model")
        if by not in ("model", "provider", "tool", "agent"):
            raise BadRequest(f"by must be model, provider, tool or agent; got {by!r}")
        store = self.stores.get()
        until_ns = parse_time(params.get("until"), "until")
        since_ns = parse_time(params.get("since", "7d"), "since")
        end = (
            datetime.now(timezone.utc)
            if until_ns is None
            else datetime.fromtimestamp(until_ns / 1e9, tz=timezone.utc)
        )
        start = datetime.fromtimestamp(since_ns / 1e9, tz=timezone.utc)  # type: ignore[operator]
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if (end - day).days > 366:
            raise BadRequest("daily stats cover at most 366 days; narrow since/until")
        days = []
        while day < end:
            after = day + timedelta(days=1)
            rows = store.stats(by, since=max(day, start), until=min(after, end))
            days.append({"day": day.date().isoformat(), "groups": rows})
            day = after
        return {"by": by, "days": days}

    def conversations(self, request: Request) -> dict[str, Any]:
        params = _params(request, ("since", "until", "agent", "limit"))
        limit = _int(params, "limit", 200, 1, MAX_LIMIT)
        runs = self.stores.get().runs(
            agent=params.get("agent"),
            since=params.get("since"),
            until=params.get("until"),
            where="conversation_id != null",
            limit=None,
        )
        groups: dict[str, list[dict[str, Any]]] = {}
        for run in runs:
            groups.setdefault(run["conversation_id"], []).append(run)
        rows = []
        for conversation_id, members in groups.items():
            starts = [r["start_time"] for r in members if r["start_time"]]
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "agents": sorted({r["agent_name"] for r in members if r["agent_name"]}),
                    "first_start": min(starts) if starts else None,
                    "last_start": max(starts) if starts else None,
                    **_totals(members),
                }
            )
        rows.sort(key=lambda r: r["last_start"] or "", reverse=True)
        return {"conversations": rows[:limit], "total": len(rows)}

    def compare(self, request: Request) -> dict[str, Any]:
        params = _params(request, ("a", "b"))
        if "a" not in params or "b" not in params:
            raise BadRequest("compare needs two runs: ?a=RUN&b=RUN")
        return self.stores.get().diff(params["a"], params["b"])

    def feedback(self, request: Request, raw: bytes) -> dict[str, Any]:
        _params(request, ())
        body = _body_json(raw)
        unknown = sorted(set(body) - {"score", "comment", "label"})
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(unknown)}; send score, comment, label")
        score = body.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise BadRequest(f"score must be a number; got {score!r}")
        for name in ("comment", "label"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                raise BadRequest(f"{name} must be a string")
            if value is not None and len(value) > 4000:
                raise BadRequest(f"{name} is longer than 4000 characters")
        return self.stores.get().add_feedback(
            request.path_params["run_id"],
            score,
            body.get("comment") or None,
            label=body.get("label") or None,
        )


class FastJSON(JSONResponse):
    """A JSON answer encoded by orjson when it is installed (the ``ui`` extra brings it): a
    10,000-span waterfall in a tenth of the json module's time. What orjson refuses (integers
    past 64 bits, keys that are not strings) goes the json module's way."""

    def render(self, content: Any) -> bytes:
        if orjson is not None:
            try:
                return orjson.dumps(content)
            except TypeError:  # orjson.JSONEncodeError
                pass
        return super().render(content)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _answer(call: Callable[[], Any]) -> Response:
    """Run one API call and turn store errors into clear 400/404/503 answers."""
    try:
        return FastJSON(call())
    except (BadRequest, WhereError, QueryError) as exc:
        return _error(400, str(exc))
    except AmbiguousIdError as exc:
        return _error(400, str(exc))
    except NotFoundError as exc:
        return _error(404, str(exc))
    except (StoreError, sqlite3.Error, OSError) as exc:
        logger.warning("agentel ui: store error: %s", exc)
        return _error(503, f"store error: {exc}")
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("pymongo", "bson"):
            logger.warning("agentel ui: MongoDB error: %s", exc)
            return _error(503, f"MongoDB error: {exc}")
        logger.exception("agentel ui: unexpected error")
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")


def _endpoint(method: Callable[[Request], Any]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(_answer, lambda: method(request))

    return endpoint


# --- security ---------------------------------------------------------------------------------
def _token_of(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """The token given as a bearer header, a cookie and a ``token`` query parameter."""
    bearer = cookie = None
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                bearer = text[7:].strip()
        elif name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == TOKEN_COOKIE:
                    cookie = val
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    return bearer, cookie, query.get("token")


def _host_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return host_name(value.decode("latin-1"))
    return ""


class Guard:
    """Security headers on every answer, the Host check and the token on every request.

    With a token, a request carries it as ``Authorization: Bearer``, as the cookie set when a
    page is opened with ``?token=`` (the page is then reloaded without it, so the token does
    not stay in the address bar or history), or as ``?token=`` on an API call.
    """

    def __init__(self, app: ASGIApp, config: UIConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        allowed = self.config.allowed_hosts
        if allowed is not None and _host_of(scope) not in allowed:
            await _error(421, "this server answers only to its own host name")(
                scope, receive, secured
            )
            return
        token = self.config.token
        if token:
            bearer, cookie, query = _token_of(scope)
            good = [
                hmac.compare_digest(t.encode(), token.encode())
                for t in (bearer, cookie, query)
                if t
            ]
            if not any(good):
                await self._refuse(scope, receive, secured)
                return
            if query and not bearer and not cookie and scope["method"] == "GET":
                path = scope["path"]
                if not path.startswith(("/api/", "/v1/", "/static/")):
                    await self._remember(scope, token)(scope, receive, secured)
                    return
        await self.app(scope, receive, secured)

    @staticmethod
    def _remember(scope: Scope, token: str) -> Response:
        rest = [
            (k, v)
            for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            if k != "token"
        ]
        target = scope["path"] + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith(("/api/", "/v1/")):
            response: Response = _error(
                401, "this server needs its token: send 'Authorization: Bearer TOKEN'"
            )
        else:
            response = HTMLResponse(
                "<!doctype html><title>agentel ui: token needed</title>"
                "<p>This agentel ui needs its token. Open the address <code>agentel ui</code> "
                "printed when it started (it ends with <code>?token=...</code>).</p>",
                status_code=401,
            )
        await response(scope, receive, send)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not sent by browsers on same-origin fetches in every case; CSRF decides
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


# --- the application --------------------------------------------------------------------------
def create_app(config: UIConfig) -> Starlette:
    """The ``agentel ui`` ASGI application for ``config``."""
    if config.store is None and config.store_url is None:
        raise ValueError("create_app needs a store or a store_url")
    stores = Stores(config)
    api = API(stores)
    page = page_html(config)

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def feedback(request: Request) -> Response:
        if not _same_origin(request):
            return _error(403, "feedback must come from this server's own pages")
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), config.csrf.encode()):
            return _error(403, "missing or wrong CSRF token: send feedback from the run's page")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error(415, "feedback must be sent as application/json")
        raw = await request.body()
        return await run_in_threadpool(_answer, lambda: api.feedback(request, raw))

    async def not_found(request: Request) -> Response:
        return _error(404, f"no API endpoint {request.url.path}")

    routes: list[BaseRoute] = [
        *(Route(path, index) for path in PAGES),
        Route("/run/{run_id:path}", index),
        Route("/api/meta", _endpoint(api.meta)),
        Route("/api/runs", _endpoint(api.runs)),
        Route("/api/runs/totals", _endpoint(api.totals)),
        Route("/api/runs/{run_id:path}/waterfall", _endpoint(api.waterfall)),
        Route("/api/runs/{run_id:path}/replay", _endpoint(api.replay)),
        Route("/api/runs/{run_id:path}/feedback", feedback, methods=["POST"]),
        Route("/api/runs/{run_id:path}", _endpoint(api.run)),
        Route("/api/spans", _endpoint(api.spans)),
        Route("/api/spans/{trace_id}/{span_id}", _endpoint(api.span)),
        Route("/api/stats/daily", _endpoint(api.daily)),
        Route("/api/stats", _endpoint(api.stats)),
        Route("/api/conversations", _endpoint(api.conversations)),
        Route("/api/compare", _endpoint(api.compare)),
        Route("/api/{rest:path}", not_found, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    if config.receiver:
        from agentel.sdk.receiver import traces_route

        routes.insert(
            0,
            traces_route(
                stores.ingest_store(), token=config.token, max_body_bytes=config.max_body_bytes
            ),
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        stores.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.stores = stores
    app.add_middleware(Guard, config=config)
    return app
