"""Settings of the real-time events: Redis event streams, SSE streams and event tickets."""

from __future__ import annotations

from mylivelinks.settings_types import Setting, parse_positive_int, parse_positive_number

EVENT_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SSE_KEEPALIVE_SECONDS",
        parse_positive_number,
        15,
        "an event stream without events sends a keep-alive comment this often (at its hub's "
        "next wake, every 2 s or sooner)",
    ),
    Setting(
        "SSE_MAX_SECONDS",
        parse_positive_number,
        3600,
        "an event stream ends after this long, up to 2 s later (proxies recycle the "
        "connection; the client resumes with `Last-Event-ID`)",
    ),
    Setting(
        "SSE_RETRY_MS",
        parse_positive_int,
        3000,
        "the `retry:` hint of an event stream: how long a client waits before reconnecting",
    ),
    Setting(
        "SSE_MAX_LISTENERS",
        parse_positive_int,
        10000,
        "open event streams one process serves; a new one past it gets 503 with Retry-After "
        "(`make run` lets each gunicorn worker hold this many connections plus 1,000)",
    ),
    Setting(
        "SSE_SEND_TIMEOUT_SECONDS",
        parse_positive_number,
        10,
        "an event stream whose client takes no data for this long (a full socket buffer) is "
        "dropped; the client resumes with `Last-Event-ID` when it reads again",
    ),
    Setting(
        "SSE_PRESENCE_SECONDS",
        parse_positive_number,
        10,
        "how often each process marks the viewers with an open room event stream present in "
        "the boxes they have open (one Redis call per 500 of them); keep it well under "
        "VIEWER_TIMEOUT_SECONDS",
    ),
    Setting(
        "EVENT_STREAM_MAXLEN",
        parse_positive_int,
        1000,
        "about how many events each Redis event stream keeps (what a reconnecting client can "
        "catch up on)",
    ),
    Setting(
        "EVENT_TICKET_TTL_SECONDS",
        parse_positive_int,
        30,
        "lifetime of an event ticket (`POST /events/tickets`): the single-use URL a browser "
        "opens one event stream with",
    ),
)
