"""The MongoDB backend (``mongodb://host:port/db``): collections spans, runs, feedback,
dropped_spans, pending_runs (intents of writes in progress) and meta.

Only standard MongoDB features are used (unordered bulk writes, unique and sparse indexes,
an optional TTL index, ``$in`` finds, an aggregation for id prefixes), so it runs on a
standalone server, a replica set or a sharded cluster (see docs/scaling.md).

Writes: a batch's spans go in with one unordered ``insert_many``; the few that already
exist (re-delivery) are replaced by ``_id``. Run rollups are computed by the shared Python
algorithm over a projected find of the touched runs, and written with a version check
(``_v``): a writer whose view went stale because another process wrote the same run in the
meantime gets a duplicate-key error from its conditional upsert and recomputes that run.
The last write therefore always saw every span, without transactions.

Crash consistency without transactions: before a write changes spans or runs, it records
the runs and traces it is about to touch in ``pending_runs`` (an intent), and it deletes the
intent once every run it touched is written. A writer killed in between leaves its intent
behind, and those runs are recomputed from their spans (their traces' spans assigned to runs
again first) when a store is opened, and by a live store on its next write once the writer
is known to be gone (its process is dead on this host, or the intent is older than any write
takes). Span writes are idempotent per ``_id`` and rollups depend only on the spans stored,
so finishing a write twice, or after another writer, gives the same runs.

Span payloads (attributes, events, links, resource) are stored as JSON strings: attribute
keys contain dots, and values may not fit BSON (integers beyond 64 bits).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from agentel.semconv.normalize import USAGE_CATEGORIES, request_model
from agentel.store.base import (
    IngestPlan,
    Store,
    check_prefix,
    check_score,
    cutoff_ns,
    dropped_entries,
    feedback_entry,
    pick_prefix,
)
from agentel.store.base import redact_url as _redact
from agentel.store.errors import NotFoundError, StoreError, StoreURLError
from agentel.store.liveness import process_alive, this_host
from agentel.store.query import (
    SPAN_GROUPINGS,
    RunFilter,
    SpanFilter,
    run_fact,
    span_fact,
    summarize,
)
from agentel.store.records import (
    RUN_COLUMNS,
    RUN_ID_LENGTH,
    SPAN_COLUMNS,
    RunRecord,
    SpanRecord,
    dump_json,
    model_key,
    run_key,
    shared_json,
    span_columns,
    span_dict_maker,
)
from agentel.store.rollup import MERGED_FIELDS
from agentel.store.where import FIELDS, to_mongo

ENV_TTL_DAYS = "AGENTEL_MONGODB_TTL_DAYS"
DEFAULT_DATABASE = "agentel"
DUPLICATE_KEY = 11000
SCHEMA_VERSION = 3
"""The document layout this code writes (kept in the ``meta`` collection; see ``_migrate``)."""
_PRUNE_BATCH = 250
_INSERT_CHUNK = 1000
"""Spans per ``insert_many``: a huge batch (a 10,000-span run) is several requests, each of
which a slow server answers well within the socket timeout."""
"""Runs deleted per round of prune: each round is a few `$in` deletes of this many ids."""
DEFAULT_SOCKET_TIMEOUT_MS = 10_000
"""How long one read or write may wait on the server: a hung server cannot block forever."""
STALE_INTENT_NS = 300 * 10**9
"""An intent this old is finished by whoever finds it: no write of ours runs for 5 minutes
(each request is bounded by the socket timeout), so its writer is gone or failed."""
LOOK_FOR_INTENTS_S = 60.0
"""How often a store that keeps writing looks for intents that other writers left behind."""

_PAYLOAD = ("attributes", "events", "links", "resource")
_SPAN_DEFAULTS: dict[str, Any] = {
    "status": "unset",
    "run_id_stamped": False,
    "category": "other",
    "counted": False,
}
_LOAD_PROJECTION = {c: 0 for c in ("attributes", "events", "links", "cost_breakdown")}
_WHERE_FIELDS = {f: f for f in FIELDS} | {
    "run_id": "_id",
    "model": "model_keys",
    "models": "model_keys",
}
_STATS_PROJECTION = {
    "_id": 0,
    **{
        c: 1
        for c in (
            "trace_id",
            "span_id",
            "name",
            "kind",
            "category",
            "counted",
            "model",
            "request_model",
            "provider",
            "tool_name",
            "status",
            "start_ns",
            "end_ns",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "cost_usd",
        )
    },
}
_SORT_FIELDS = {
    "start": "start_ns",
    "cost": "cost_usd",
    "duration": "duration_ns",
    "tokens": "tokens",
}


def _range(since_ns: int | None, until_ns: int | None) -> dict[str, int]:
    bounds = {}
    if since_ns is not None:
        bounds["$gte"] = since_ns
    if until_ns is not None:
        bounds["$lt"] = until_ns
    return bounds


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)


def _span_doc(record: SpanRecord) -> dict[str, Any]:
    """A span as a document: _id trace_id:span_id, None fields left out, payload as JSON."""
    doc: dict[str, Any] = {"_id": f"{record.trace_id}:{record.span_id}"}
    for column in SPAN_COLUMNS:
        value = getattr(record, column)
        if value is None:
            continue
        if column in _PAYLOAD:
            if not value:
                continue
            value = shared_json(value) if column == "resource" else dump_json(value)
        doc[column] = value
    doc["start_at"] = _utc(record.start_ns)
    return doc


def _merged_update(record: SpanRecord) -> dict[str, Any]:
    """The update that gives a stored span its call's merged usage (None fields unset, but a
    None cost_breakdown keeps the stored one)."""
    values = {c: getattr(record, c) for c in MERGED_FIELDS}
    breakdown = values.pop("cost_breakdown")
    update: dict[str, Any] = {"$set": {c: v for c, v in values.items() if v is not None}}
    if breakdown:
        update["$set"]["cost_breakdown"] = breakdown
    unset = {c: "" for c, v in values.items() if v is None}
    if unset:
        update["$unset"] = unset
    return update


def _span_from_doc(doc: dict[str, Any], *, payload: bool = True) -> SpanRecord:
    data = {c: doc.get(c, _SPAN_DEFAULTS.get(c)) for c in SPAN_COLUMNS if c not in _PAYLOAD}
    record = SpanRecord(**data)
    for column in _PAYLOAD:
        text = doc.get(column)
        if text is not None and (payload or column == "resource"):
            setattr(record, column, json.loads(text))
    return record


def _run_doc(run: RunRecord, version: int) -> dict[str, Any]:
    """A run's fields (feedback excluded: add_feedback owns it), sort keys, TTL date, version."""
    doc = {c: getattr(run, c) for c in RUN_COLUMNS if c not in ("run_id", "feedback")}
    doc["duration_ns"] = (
        run.end_ns - run.start_ns if run.start_ns is not None and run.end_ns is not None else None
    )
    doc["duration_ms"] = run.duration_ms  # what `where` and `min_duration` compare
    doc["tokens"] = run.input_tokens + run.output_tokens
    doc["start_at"] = _utc(run.start_ns) if run.start_ns is not None else None
    doc["_v"] = version
    return doc


def _run_from_doc(doc: dict[str, Any]) -> RunRecord:
    data = {c: doc.get(c) for c in RUN_COLUMNS if c != "run_id"}
    data["models"] = data["models"] or []
    data["model_keys"] = data["model_keys"] or []
    return RunRecord(run_id=doc["_id"], **{k: v for k, v in data.items() if v is not None})


def _left(intent: dict[str, Any], now_ns: int) -> bool:
    """Whether an intent was left behind: its writer's process is gone from this host, or it
    is older than any write takes."""
    at_ns = intent.get("at_ns") or 0
    if now_ns - at_ns > STALE_INTENT_NS:
        return True
    pid = intent.get("pid")
    return (
        intent.get("host") == this_host() and isinstance(pid, int) and not process_alive(pid, at_ns)
    )


def ttl_days_from_env() -> float | None:
    """``AGENTEL_MONGODB_TTL_DAYS`` as a positive number of days, or None when unset."""
    raw = os.environ.get(ENV_TTL_DAYS, "").strip()
    if not raw:
        return None
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not days > 0:
        raise StoreError(f"{ENV_TTL_DAYS} must be a positive number of days; got {raw!r}")
    return days


class MongoStore(Store):
    """A store in one MongoDB database; safe to share between threads and processes."""

    def __init__(
        self,
        url: str,
        *,
        server_selection_timeout_ms: int = 3_000,
        ttl_days: float | None = None,
        socket_timeout_ms: int = DEFAULT_SOCKET_TIMEOUT_MS,
    ) -> None:
        try:
            import pymongo
            from pymongo import uri_parser
        except ImportError as exc:
            raise StoreError(
                f"store {_redact(url)} needs pymongo: pip install 'agentel[mongodb]'"
            ) from exc
        try:
            database = uri_parser.parse_uri(url).get("database") or DEFAULT_DATABASE
        except Exception as exc:
            raise StoreURLError(f"bad MongoDB URL {_redact(url)!r}: {exc}") from exc
        self.url = url
        self._pymongo = pymongo
        self._client: Any = pymongo.MongoClient(
            url,
            serverSelectionTimeoutMS=server_selection_timeout_ms,
            connectTimeoutMS=server_selection_timeout_ms,
            socketTimeoutMS=socket_timeout_ms,
            appname="agentel",
            tz_aware=True,
        )
        db = self._client[database]
        self._spans = db["spans"]
        self._runs = db["runs"]
        self._feedback = db["feedback"]
        self._dropped = db["dropped_spans"]
        self._meta = db["meta"]
        self._pending = db["pending_runs"]
        self._local = threading.local()  # each thread's intent document
        self._intents: dict[str, int] = {}  # those of this store's threads -> their pid
        self._unsettled: set[str] = set()  # intents of this store's writes that did not finish
        self._next_look = 0.0
        try:
            self._ensure_indexes(ttl_days if ttl_days is not None else ttl_days_from_env())
            with contextlib.suppress(pymongo.errors.OperationFailure):  # a read-only user
                self._migrate()
            with contextlib.suppress(pymongo.errors.OperationFailure):  # a read-only user
                self.finish_interrupted_writes()
            with contextlib.suppress(pymongo.errors.OperationFailure):  # a read-only user
                self.mark_abandoned()
        except pymongo.errors.ServerSelectionTimeoutError as exc:
            self._client.close()
            raise StoreError(
                f"cannot reach MongoDB at {_redact(url)} within {server_selection_timeout_ms} ms "
                f"(is the server running?): {exc}"
            ) from exc

    def _ensure_indexes(self, ttl_days: float | None) -> None:
        from pymongo import ASCENDING as UP
        from pymongo import DESCENDING as DOWN

        spans, runs = self._spans, self._runs
        spans.create_index([("trace_id", UP), ("span_id", UP)], unique=True, name="trace_span")
        spans.create_index([("run_id", UP), ("start_ns", UP)], name="run_start")
        spans.create_index([("start_ns", DOWN)], name="start")
        spans.create_index([("model", UP), ("start_ns", DOWN)], sparse=True, name="model_start")
        runs.create_index([("start_ns", DOWN)], name="start")
        runs.create_index([("trace_id", UP)], name="trace")
        runs.create_index([("status", UP), ("host", UP)], name="status_host")
        runs.create_index([("agent_name", UP), ("start_ns", DOWN)], sparse=True, name="agent")
        runs.create_index(
            [("conversation_id", UP), ("start_ns", DOWN)], sparse=True, name="conversation"
        )
        self._feedback.create_index([("run_id", UP), ("created_ns", UP)], name="run")
        if ttl_days is not None:
            seconds = int(ttl_days * 86_400)
            for collection, field in (
                (spans, "start_at"),
                (runs, "start_at"),
                (self._feedback, "created_at"),
            ):
                self._ttl_index(collection, field, seconds)

    def _migrate(self) -> None:
        """Bring documents written by an older agentel up to ``SCHEMA_VERSION``, once.

        2: run ids name the trace too (trace id + root span id, where they were the root
        span id alone). Runs, spans and feedback are renamed, then the renamed runs are
        recomputed from their spans, which splits runs that two traces had merged.
        3: spans get ``request_model`` (read from their attributes; their model when none
        is named) and runs ``model_keys``, by recomputing the runs with a model call.
        Every step can be repeated, so a migration cut short is finished by the next open
        (the steps of 2 find nothing to do in a store that has them).
        """
        from pymongo import UpdateOne
        from pymongo.errors import DuplicateKeyError

        held = self._meta.find_one({"_id": "schema"}) or {}
        version = held.get("version", 1)
        if version >= SCHEMA_VERSION:
            return
        bare = {"$regex": "^[0-9a-f]{16}$"}
        renamed: dict[str, str] = {}
        for doc in self._runs.find({"_id": bare}):
            new_id = run_key(doc.get("trace_id") or "", doc["_id"])
            renamed[doc["_id"]] = new_id
            with contextlib.suppress(DuplicateKeyError):  # renamed before a crash
                self._runs.insert_one({**doc, "_id": new_id})
            self._runs.delete_one({"_id": doc["_id"]})
        for old, new in renamed.items():
            self._feedback.update_many({"run_id": old}, {"$set": {"run_id": new}})
        touched: set[str] = set(renamed.values())
        ops = []
        for doc in self._spans.find({"run_id": bare}, {"trace_id": 1, "run_id": 1}):
            new_id = run_key(doc["trace_id"], doc["run_id"])
            touched.add(new_id)
            ops.append(
                UpdateOne(
                    {"_id": doc["_id"], "trace_id": doc["trace_id"]}, {"$set": {"run_id": new_id}}
                )
            )
            if len(ops) >= 1000:
                self._spans.bulk_write(ops, ordered=False)
                ops = []
        if ops:
            self._spans.bulk_write(ops, ordered=False)
        if version < 3:
            touched |= self._fill_request_models()
        self._recompute(touched)
        self._meta.update_one({"_id": "schema"}, {"$set": {"version": SCHEMA_VERSION}}, upsert=True)

    def _fill_request_models(self) -> set[str]:
        """Set ``request_model`` on the spans that name a model; the ids of their runs."""
        from pymongo import UpdateOne

        runs: set[str] = set()
        ops = []
        cursor = self._spans.find(
            {"model": {"$nin": [None]}}, {"trace_id": 1, "run_id": 1, "model": 1, "attributes": 1}
        )
        for doc in cursor:
            attributes = json.loads(doc.get("attributes") or "{}")
            ops.append(
                UpdateOne(
                    {"_id": doc["_id"], "trace_id": doc["trace_id"]},
                    {"$set": {"request_model": request_model(attributes, doc["model"])}},
                )
            )
            if doc.get("run_id"):
                runs.add(doc["run_id"])
            if len(ops) >= 1000:
                self._spans.bulk_write(ops, ordered=False)
                ops = []
        if ops:
            self._spans.bulk_write(ops, ordered=False)
        return runs

    @staticmethod
    def _ttl_index(collection: Any, field: str, seconds: int) -> None:
        """Create (or re-create with a new age) the TTL index on ``field``."""
        name = f"ttl_{field}"
        current = collection.index_information().get(name)
        if current is not None and current.get("expireAfterSeconds") != seconds:
            collection.drop_index(name)
        collection.create_index([(field, 1)], expireAfterSeconds=seconds, name=name)

    def close(self) -> None:
        """Delete the intents of this store's finished writes (waiting at most 0.5 s: the
        next open finishes them anyway) and close the connections."""
        mine = [name for name, pid in self._intents.items() if pid == os.getpid()]
        if mine:
            with (
                contextlib.suppress(self._pymongo.errors.PyMongoError),
                self._pymongo.timeout(0.5),
            ):
                self._pending.delete_many({"_id": {"$in": mine}})
        self._intents.clear()
        self._client.close()

    # --- interrupted writes ------------------------------------------------------------------
    def ingest(self, records: Sequence[SpanRecord]) -> None:
        super().ingest(records)
        if self._unsettled or time.monotonic() >= self._next_look:
            self.finish_interrupted_writes()

    def finish_interrupted_writes(self) -> int:
        """Recompute the runs of writes that were interrupted, from their spans; returns how
        many runs were recomputed.

        Finished: the intents this store's own failed writes left, those of writers whose
        process is gone from this host, and any older than ``STALE_INTENT_NS``. A store does
        it when it opens, and again on a write after a failed one or every
        ``LOOK_FOR_INTENTS_S``.
        """
        self._next_look = time.monotonic() + LOOK_FOR_INTENTS_S
        mine = set(self._unsettled)
        now = time.time_ns()
        found = [doc for doc in self._pending.find({}) if doc["_id"] in mine or _left(doc, now)]
        if found:
            runs = {r for doc in found for r in doc.get("runs", ())}
            self._recompute(runs, {t for doc in found for t in doc.get("traces", ())})
            self._pending.delete_many({"_id": {"$in": [doc["_id"] for doc in found]}})
        self._unsettled -= mine
        return len({r for doc in found for r in doc.get("runs", ())})

    def _intend(self, plan: IngestPlan) -> str:
        """Record what a write is about to change, before it changes anything.

        Each thread keeps one intent document, overwritten by its next write (the previous
        write has finished by then), so a write costs one request more, not two. A write
        that failed or met another writer leaves its document to ``finish_interrupted_writes``.
        """
        held = getattr(self._local, "intent", None)
        if held is None or held[0] != os.getpid():  # a forked child keeps its own
            name = f"{this_host()}:{os.getpid()}:{os.urandom(8).hex()}"
            held = self._local.intent = (os.getpid(), name)
            self._intents[name] = os.getpid()
        traces = {s.trace_id for s in plan.spans if not s.run_id_stamped}
        traces.update(t for t, _, _, _ in plan.updates)
        intent = {
            "runs": sorted({r.run_id for r in plan.runs} | set(plan.deleted_runs)),
            "traces": sorted(traces),
            "host": this_host(),
            "pid": os.getpid(),
            "at_ns": time.time_ns(),
        }
        self._pending.replace_one({"_id": held[1]}, intent, upsert=True)
        return held[1]

    def _unsettle(self, intent: str) -> None:
        """Leave ``intent`` to ``finish_interrupted_writes``; this thread starts a new one."""
        self._unsettled.add(intent)
        self._intents.pop(intent, None)
        self._local.intent = None

    # --- ingest primitives ------------------------------------------------------------------
    def _unstamped_traces(self, trace_ids: set[str]) -> set[str]:
        if not trace_ids:
            return set()
        cursor = self._spans.find(
            {"trace_id": {"$in": list(trace_ids)}, "run_id_stamped": False},
            {"trace_id": 1, "_id": 0},
        )
        return {doc["trace_id"] for doc in cursor}

    def _load(
        self, run_ids: set[str], trace_ids: set[str]
    ) -> tuple[list[SpanRecord], dict[str, Any]]:
        # versions first, then spans: a write that lands after this read bumps a version,
        # so the conditional run write below notices it
        versions: dict[str, Any] = {}
        docs: dict[str, dict[str, Any]] = {}
        for values, id_field in ((run_ids, "_id"), (trace_ids, "trace_id")):
            if values:
                for doc in self._runs.find({id_field: {"$in": list(values)}}, {"_v": 1}):
                    versions[doc["_id"]] = doc.get("_v", 0)
        for field, values in (("run_id", run_ids), ("trace_id", trace_ids)):
            if values:
                for doc in self._spans.find({field: {"$in": list(values)}}, _LOAD_PROJECTION):
                    docs[doc["_id"]] = doc
        return [_span_from_doc(d, payload=False) for d in docs.values()], versions

    def _apply(self, plan: IngestPlan) -> set[str]:
        intent = self._intend(plan)
        try:
            conflicts = self._write(plan)
        except BaseException:
            self._unsettle(intent)  # finished by this store's next write, or a later open
            raise
        if conflicts:
            self._unsettle(intent)  # another writer was here: look again after the retry
        return conflicts

    def _write(self, plan: IngestPlan) -> set[str]:
        """Write the spans, then the runs; returns the runs another writer changed meanwhile."""
        from pymongo import DeleteOne, ReplaceOne, UpdateOne
        from pymongo.errors import BulkWriteError

        conflicts: set[str] = set()
        all_docs = [_span_doc(r) for r in plan.spans]
        for start in range(0, len(all_docs), _INSERT_CHUNK):
            docs = all_docs[start : start + _INSERT_CHUNK]
            try:
                self._spans.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                replace = []
                for error in exc.details.get("writeErrors", []):
                    if error.get("code") != DUPLICATE_KEY:
                        raise
                    doc = docs[error["index"]]
                    if doc.get("end_ns") is None:
                        continue  # a live run's unfinished top span never replaces a stored span
                    replace.append(
                        ReplaceOne(
                            {"_id": doc["_id"], "trace_id": doc["trace_id"]}, doc, upsert=True
                        )
                    )
                if replace:
                    self._spans.bulk_write(replace, ordered=False)
        if plan.updates:
            self._spans.bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{t}:{s}", "trace_id": t},
                        {"$set": {"run_id": run_id, "counted": counted}},
                    )
                    for t, s, run_id, counted in plan.updates
                ],
                ordered=False,
            )
        if plan.merged:
            self._spans.bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{r.trace_id}:{r.span_id}", "trace_id": r.trace_id},
                        _merged_update(r),
                    )
                    for r in plan.merged
                ],
                ordered=False,
            )
        gone = [r for r in plan.deleted_runs if r in plan.versions]
        if gone:
            result = self._runs.bulk_write(
                [DeleteOne({"_id": r, "_v": plan.versions[r]}) for r in gone], ordered=False
            )
            if result.deleted_count != len(gone):
                conflicts |= set(gone)
        new = [r for r in plan.runs if r.run_id not in plan.versions]
        known = [r for r in plan.runs if r.run_id in plan.versions]
        if new:
            docs = [{"_id": r.run_id, **_run_doc(r, 1)} for r in new]
            conflicts |= self._conflicts(lambda: self._runs.insert_many(docs, ordered=False), new)
        if known:
            ops = [
                UpdateOne(
                    {"_id": r.run_id, "_v": plan.versions[r.run_id]},
                    {"$set": _run_doc(r, plan.versions[r.run_id] + 1)},
                    upsert=True,
                )
                for r in known
            ]
            conflicts |= self._conflicts(lambda: self._runs.bulk_write(ops, ordered=False), known)
        return conflicts

    def _conflicts(self, write: Any, runs: Sequence[RunRecord]) -> set[str]:
        """Run ``write``; the runs whose version check failed (duplicate key on ``_id``)."""
        from pymongo.errors import BulkWriteError

        try:
            write()
        except BulkWriteError as exc:
            found = set()
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != DUPLICATE_KEY:
                    raise
                found.add(runs[error["index"]].run_id)
            return found
        return set()

    def _census(self) -> tuple[set[str], dict[str, int], dict[str, int]]:
        run_ids = {doc["_id"] for doc in self._runs.find({}, {"_id": 1})}
        per_run: dict[str, int] = {}
        unassigned: dict[str, int] = {}
        count = [{"$group": {"_id": "$run_id", "n": {"$sum": 1}}}]
        for doc in self._spans.aggregate(count):
            if doc["_id"] is not None:
                per_run[doc["_id"]] = doc["n"]
            else:
                by_trace = [
                    {"$match": {"run_id": None}},
                    {"$group": {"_id": "$trace_id", "n": {"$sum": 1}}},
                ]
                unassigned = {d["_id"]: d["n"] for d in self._spans.aggregate(by_trace)}
        return run_ids, per_run, unassigned

    def _running_on(self, host: str) -> list[tuple[str, int | None, int | None]]:
        cursor = self._runs.find(
            {"status": "running", "host": host}, {"_id": 1, "pid": 1, "start_ns": 1}
        )
        return [(d["_id"], d.get("pid"), d.get("start_ns")) for d in cursor]

    def _silent_since(self, cutoff_ns: int) -> list[str]:
        running = [d["_id"] for d in self._runs.find({"status": "running"}, {"_id": 1})]
        if not running:
            return []
        recent = {"$or": [{"start_ns": {"$gte": cutoff_ns}}, {"end_ns": {"$gte": cutoff_ns}}]}
        active = set(self._spans.distinct("run_id", {"run_id": {"$in": running}, **recent}))
        return [run_id for run_id in running if run_id not in active]

    def _set_abandoned(self, run_ids: list[str]) -> None:
        # bumping the version makes a writer recomputing the same run meanwhile start over
        self._runs.update_many(
            {"_id": {"$in": run_ids}, "status": "running"},
            {"$set": {"status": "abandoned"}, "$inc": {"_v": 1}},
        )

    # --- queries ----------------------------------------------------------------------------
    def _content_candidates(
        self, patterns: list[str]
    ) -> Iterable[tuple[str | None, dict[str, Any], list[dict[str, Any]]]]:
        regex = {"$regex": "|".join(re.escape(p) for p in patterns), "$options": "i"}
        cursor = self._spans.find(
            {"$or": [{"attributes": regex}, {"events": regex}]},
            {"run_id": 1, "attributes": 1, "events": 1},
        )
        for doc in cursor:
            yield (
                doc.get("run_id"),
                json.loads(doc.get("attributes") or "{}"),
                json.loads(doc.get("events") or "[]"),
            )

    def _find_runs(
        self,
        found: RunFilter,
        run_ids: set[str] | None,
        limit: int | None,
        offset: int,
        order_by: str,
    ) -> list[RunRecord]:
        # one flat document: planners pick indexes best from it
        query: dict[str, Any] = found.equalities()
        if found.model is not None:
            query["model_keys"] = model_key(found.model)
        start = _range(found.since_ns, found.until_ns)
        if start:
            query["start_ns"] = start
        if found.min_cost is not None:
            query["cost_usd"] = {"$gte": found.min_cost}
        if found.min_duration_ms is not None:
            query["duration_ms"] = {"$gte": found.min_duration_ms}
        if found.has_error is not None:
            query["errors"] = {"$gt": 0} if found.has_error else 0
        if found.provider is not None:
            with_provider = set(
                self._spans.distinct("run_id", {"provider": found.provider, "counted": True})
            )
            run_ids = with_provider if run_ids is None else run_ids & with_provider
        if found.tool is not None:
            with_tool = set(self._spans.distinct("run_id", {"tool_name": found.tool}))
            run_ids = with_tool if run_ids is None else run_ids & with_tool
        if run_ids is not None:
            query["_id"] = {"$in": sorted(r for r in run_ids if r)}
        if found.where is not None:
            query["$and"] = [to_mongo(found.where, _WHERE_FIELDS)]
        field = _SORT_FIELDS[order_by]
        cursor = self._runs.find(query).sort([(field, -1), ("_id", 1)]).skip(offset)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [_run_from_doc(doc) for doc in cursor]

    def run(self, run_id: str) -> dict[str, Any]:
        full = self._resolve_run(run_id)
        doc = self._runs.find_one({"_id": full})
        if doc is None:
            raise NotFoundError(f"no run with id or prefix {run_id!r} in {_redact(self.url)}")
        return _run_from_doc(doc).to_dict()

    def _resolve_run(self, run_id: str) -> str:
        prefix = check_prefix(run_id, "run")
        if len(prefix) == RUN_ID_LENGTH and self._runs.find_one({"_id": prefix}, {"_id": 1}):
            return prefix  # a whole id: one lookup by _id instead of a range scan
        ids = [
            doc["_id"]
            for doc in self._runs.find({"_id": {"$gte": prefix, "$lt": prefix + "g"}}, {"_id": 1})
            .sort("_id", 1)
            .limit(11)
        ]
        return pick_prefix(run_id, prefix, ids, "run", _redact(self.url))

    def resolve_trace_id(self, trace_id: str) -> str:
        prefix = check_prefix(trace_id, "trace")
        pipeline = [
            {"$match": {"trace_id": {"$gte": prefix, "$lt": prefix + "g"}}},
            {"$group": {"_id": "$trace_id"}},
            {"$sort": {"_id": 1}},
            {"$limit": 11},
        ]
        ids = [doc["_id"] for doc in self._spans.aggregate(pipeline)]
        return pick_prefix(trace_id, prefix, ids, "trace", _redact(self.url))

    def _iter_spans(self, found: SpanFilter) -> Iterator[SpanRecord]:
        query: dict[str, Any] = found.equalities()
        start = _range(found.since_ns, found.until_ns)
        if start:
            query["start_ns"] = start
        cursor = (
            self._spans.find(query)
            .sort([("start_ns", 1), ("span_id", 1), ("trace_id", 1)])
            .batch_size(1000)
        )
        for doc in cursor:
            yield _span_from_doc(doc)

    def _span_fields(self, found: SpanFilter, wanted: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        columns = span_columns(wanted)
        make = span_dict_maker(wanted, columns)
        query: dict[str, Any] = found.equalities()
        start = _range(found.since_ns, found.until_ns)
        if start:
            query["start_ns"] = start
        cursor = (
            self._spans.find(query, {"_id": 0, **dict.fromkeys(columns, 1)})
            .sort([("start_ns", 1), ("span_id", 1), ("trace_id", 1)])
            .batch_size(1000)
        )
        for doc in cursor:
            yield make([doc.get(c, _SPAN_DEFAULTS.get(c)) for c in columns])

    def _span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        doc = self._spans.find_one({"_id": f"{trace_id}:{span_id}"})
        return None if doc is None else _span_from_doc(doc)

    def _stats(self, by: str, since_ns: int | None, until_ns: int | None) -> list[dict[str, Any]]:
        start = _range(since_ns, until_ns)
        if by in SPAN_GROUPINGS:
            query: dict[str, Any] = (
                {"category": "tool"}
                if by == "tool"
                else {"counted": True, "category": {"$in": sorted(USAGE_CATEGORIES)}}
            )
            if start:
                query["start_ns"] = start
            docs = self._spans.find(query, _STATS_PROJECTION)
            facts = (span_fact(_span_from_doc(d, payload=False), by) for d in docs)
            return summarize(f for f in facts if f is not None)
        docs = self._runs.find({"start_ns": start} if start else {})
        return summarize(run_fact(_run_from_doc(d), by) for d in docs)

    # --- feedback and retention -------------------------------------------------------------
    def record_dropped_spans(
        self,
        count: int,
        *,
        host: str,
        pid: int,
        service_name: str | None = None,
        live_runs: int = 0,
    ) -> None:
        count, live_runs = max(0, count), max(0, live_runs)
        if not count and not live_runs:
            return
        now = time.time_ns()
        update: dict[str, Any] = {
            "$inc": {"dropped": count, "live_runs": live_runs},
            "$set": {"last_ns": now},
            "$setOnInsert": {"host": host, "pid": pid, "first_ns": now},
        }
        if service_name:
            update["$set"]["service_name"] = service_name
        self._dropped.update_one({"_id": f"{host}:{pid}"}, update, upsert=True)

    def dropped_spans(self) -> list[dict[str, Any]]:
        return dropped_entries(list(self._dropped.find({}, {"_id": 0})))

    def add_feedback(
        self, run_id: str, score: float, comment: str | None = None, *, label: str | None = None
    ) -> dict[str, Any]:
        score = check_score(score)
        full = self._resolve_run(run_id)
        created_ns = time.time_ns()
        self._feedback.insert_one(
            {
                "run_id": full,
                "score": score,
                "label": label,
                "comment": comment,
                "created_ns": created_ns,
                "created_at": _utc(created_ns),
            }
        )
        self._runs.update_one({"_id": full}, {"$set": {"feedback": score}})
        return feedback_entry(full, score, label, comment, created_ns)

    def prune(
        self,
        older_than: datetime | timedelta,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        cutoff = cutoff_ns(older_than)
        if dry_run:
            return self._runs.count_documents({"start_ns": {"$lt": cutoff}})
        pruned = 0
        while True:
            old = [
                doc["_id"]
                for doc in self._runs.find({"start_ns": {"$lt": cutoff}}, {"_id": 1}).limit(
                    _PRUNE_BATCH
                )
            ]
            if not old:
                return pruned
            self._spans.delete_many({"run_id": {"$in": old}})
            self._feedback.delete_many({"run_id": {"$in": old}})
            deleted = self._runs.delete_many({"_id": {"$in": old}}).deleted_count
            pruned += deleted
            if progress is not None:
                progress(deleted)
