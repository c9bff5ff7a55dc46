"""Request ids, JSON logs and Prometheus metrics."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HTTP_REQUESTS = Counter(
    "mylivelinks_http_requests_total",
    "HTTP requests served",
    ["method", "endpoint", "status"],
)
LEDGER_MISMATCHES = Gauge(
    "mylivelinks_ledger_reconciliation_mismatches",
    "Mismatches found by the last ledger reconciliation",
    multiprocess_mode="mostrecent",
)
LEDGER_RECONCILED_AT = Gauge(
    "mylivelinks_ledger_reconciliation_timestamp_seconds",
    "When the last ledger reconciliation finished",
    multiprocess_mode="mostrecent",
)
PAYMENT_EVENTS_FAILED = Gauge(
    "mylivelinks_payment_events_failed",
    "Payment webhooks parked after repeated failures (need a human)",
    multiprocess_mode="mostrecent",
)
HTTP_LATENCY = Histogram(
    "mylivelinks_http_request_duration_seconds",
    "Time spent serving HTTP requests",
    ["method", "endpoint"],
)


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or None) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure_logging(level: str) -> None:
    """Send JSON log lines with the request id to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
        )
    )
    handler.addFilter(RequestIdFilter())
    handler.set_name("mylivelinks-json")
    root = logging.getLogger()
    # Replace only our own handler, so creating a second app does not log twice.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "mylivelinks-json"]
    root.addHandler(handler)
    root.setLevel(level)


def init_observability(app: Flask) -> None:
    """Wire request ids, access logs and the /metrics endpoint into the app."""
    access_log = logging.getLogger("mylivelinks.access")

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def record_request(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        elapsed = time.perf_counter() - started if started else 0.0
        endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
        HTTP_REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        HTTP_LATENCY.labels(request.method, endpoint).observe(elapsed)
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        return response


def render_metrics() -> Response:
    """Prometheus exposition of this process (or of all workers under multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
