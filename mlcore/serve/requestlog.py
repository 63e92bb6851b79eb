"""The request log: served inputs and predictions, appended in batches for `mlcore monitor`.

A request only puts its arrays on a bounded queue (full: rows dropped and counted), so logging
never slows or fails a request. A background thread writes JSON-lines files atomically through
`mlcore.data`, to any fsspec URI (replicas in a cluster log to object storage).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlcore.data.catalog import Dataset
from mlcore.data.storage import atomic_write

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("mlcore.serve")

_STOP = object()


class RequestLog:
    """A bounded queue and a writer thread; `record` is all a request pays for."""

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        flush_rows: int = 1000,
        flush_seconds: float = 5.0,
        max_pending: int = 10_000,
    ) -> None:
        if flush_rows < 1 or flush_seconds <= 0 or max_pending < 1:
            raise ValueError("flush_rows and max_pending must be >= 1, flush_seconds above 0")
        self.location = str(location)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.dropped = 0  # rows not logged because the queue was full
        self.written = 0
        self._queue: queue.Queue[Any] = queue.Queue(max_pending)
        self._thread: threading.Thread | None = None
        self._files = 0
        # The folder as a dataset of mlcore.data: its storage, and its files' atomic writes.
        self._folder = Dataset(name="request log", uri=self.location, format="jsonl")

    def start(self) -> None:
        """Make a local folder if missing, and start the writer thread."""
        if self._folder.is_local:
            self._folder.local_path.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="mlcore-request-log", daemon=True)
        self._thread.start()

    def record(self, features: np.ndarray, outputs: np.ndarray) -> None:
        """Queue one request's rows; drop them (counted) rather than wait."""
        try:
            self._queue.put_nowait((time.time(), features, outputs))
        except queue.Full:
            self.dropped += len(features)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        self._thread = None
        if self.dropped:
            log.warning("Request log: %d rows dropped (queue full)", self.dropped)

    def _run(self) -> None:
        pending: list[Any] = []
        rows = 0
        deadline = time.monotonic() + self.flush_seconds
        while True:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                item = None
            if item is _STOP:
                self._write(pending)
                return
            if item is not None:
                pending.append(item)
                rows += len(item[1])
            if rows >= self.flush_rows or time.monotonic() >= deadline:
                self._write(pending)
                pending, rows = [], 0
                deadline = time.monotonic() + self.flush_seconds

    def _write(self, pending: list[Any]) -> None:
        if not pending:
            return
        import orjson

        # One line per request, its rows as 2-D arrays: one orjson call each (per row was 25 %
        # of the server's throughput at 32-row requests, bench/serve.py).
        lines = [
            orjson.dumps(
                {"time": stamp, "inputs": features, "outputs": outputs},
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
            for stamp, features, outputs in pending
        ]
        self._files += 1
        now = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        # Host (the pod), pid and a counter: replicas and restarts never write the same name.
        name = f"requests-{now}-{socket.gethostname()}-{os.getpid()}-{self._files}.jsonl"
        content = b"\n".join(lines) + b"\n"
        try:
            self._put(name, content)
            self.written += sum(len(features) for _, features, _ in pending)
        except Exception as error:  # a full disk or a storage outage must not stop the server
            log.warning(
                "Request log: %d requests not written to %s/%s: %s",
                len(lines), self.location, name, error,
            )  # fmt: skip

    def _put(self, name: str, content: bytes) -> None:
        """Write one file whole. Locally not `storage.atomic_write`: its scan for dead writers'
        files would grow with the log, for names never written twice."""
        if self._folder.is_local:
            target = self._folder.local_path / name
            temporary = target.with_name(f".{name}.tmp")
            temporary.write_bytes(content)
            os.replace(temporary, target)
            return
        with atomic_write(replace(self._folder, uri=f"{self.location.rstrip('/')}/{name}")) as sink:
            sink.write(content)
