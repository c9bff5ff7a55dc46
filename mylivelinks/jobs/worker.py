"""The RQ worker class of `make run` and production: `rq worker --worker-class
mylivelinks.jobs.worker.Worker`.

RQ's SimpleWorker (jobs run in the worker process, which builds the app once) that puts
itself back in RQ's worker registry at every heartbeat: RQ registers a worker only when
it starts, so after Redis was flushed or restarted without its data, monitoring (`rq
info`, `Worker.all`) would see no worker although jobs keep running.
"""

from __future__ import annotations

from redis.client import Pipeline
from rq import worker_registration
from rq.worker import SimpleWorker


class Worker(SimpleWorker):
    """SimpleWorker that registers itself again whenever it heartbeats."""

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """RQ's heartbeat, plus the worker's hash and registry entries written again."""
        super().heartbeat(timeout, pipeline)
        if self.birth_date is None:
            return  # not registered yet: register_birth writes everything
        # Idempotent writes, in the heartbeat's own round trip when it is pipelined.
        writes = pipeline if pipeline is not None else self.connection.pipeline()
        writes.hset(self.key, mapping=self.serialize())
        worker_registration.register(self, writes)
        if pipeline is None:
            writes.execute()
