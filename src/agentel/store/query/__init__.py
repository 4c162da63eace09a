"""The backend-independent half of the query API, one concern per module: ``times`` (argument
parsing), ``filters``, ``search`` (content search), ``stats`` and ``replay`` (the timeline).

Every backend translates the same :class:`RunFilter` / :class:`SpanFilter` into its own query
language, and whatever cannot be pushed down (content search, percentiles, the replay) is
computed here in plain Python, so memory, SQLite and MongoDB give identical answers.

Each name is re-exported here, so ``from agentel.store.query import RunFilter`` keeps working.
"""

from __future__ import annotations

from agentel.store.query.filters import (
    MAX_TEXT,
    SPAN_STATUSES,
    RunFilter,
    SpanFilter,
    check_fields,
    run_fields,
    run_filter,
    run_matches,
    span_filter,
    span_matches,
    span_order,
)
from agentel.store.query.replay import (
    REPLAY_TYPES,
    build_replay,
    check_replay_types,
    message_text,
    select_replay,
)
from agentel.store.query.search import (
    CONTENT_KEYS,
    content_texts,
    fold,
    like_pattern,
    span_has_text,
    stored_patterns,
)
from agentel.store.query.stats import (
    GROUP_FIELDS,
    PERCENTILES,
    PICO,
    SPAN_GROUPINGS,
    STATS_BY,
    Fact,
    bucket,
    check_stats_by,
    nearest_rank,
    order_stats,
    pico,
    rank,
    run_fact,
    span_fact,
    stat_row,
    summarize,
)
from agentel.store.query.times import (
    TIME_HELP,
    check_number,
    check_text,
    parse_duration_ms,
    parse_time,
)

__all__ = [
    "CONTENT_KEYS",
    "GROUP_FIELDS",
    "MAX_TEXT",
    "PERCENTILES",
    "PICO",
    "REPLAY_TYPES",
    "SPAN_GROUPINGS",
    "SPAN_STATUSES",
    "STATS_BY",
    "TIME_HELP",
    "Fact",
    "RunFilter",
    "SpanFilter",
    "bucket",
    "build_replay",
    "check_fields",
    "check_number",
    "check_replay_types",
    "check_stats_by",
    "check_text",
    "content_texts",
    "fold",
    "like_pattern",
    "message_text",
    "nearest_rank",
    "order_stats",
    "parse_duration_ms",
    "parse_time",
    "pico",
    "rank",
    "run_fact",
    "run_fields",
    "run_filter",
    "run_matches",
    "select_replay",
    "span_fact",
    "span_filter",
    "span_has_text",
    "span_matches",
    "span_order",
    "stat_row",
    "stored_patterns",
    "summarize",
]
