"""A metric buffer: training appends in microseconds, a background thread writes batches.

Points are written when the buffer reaches ``max_points``, every ``interval`` seconds, and
on :meth:`MetricBuffer.close`. A failed background write keeps its points for the next
attempt; ``flush`` and ``close`` raise if the store still refuses them, so nothing is lost
silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from headway.store.runs import MetricRow

__all__ = ["MetricBuffer"]

log = logging.getLogger("headway")


class MetricBuffer:
    def __init__(
        self,
        write: Callable[[list[MetricRow]], None],
        interval: float = 1.0,
        max_points: int = 20_000,
    ) -> None:
        self._write = write
        self._interval = interval
        self._max_points = max_points
        self._points: list[MetricRow] = []
        self._lock = threading.Lock()  # guards _points
        self._flush_lock = threading.Lock()  # one writer at a time, in order
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="headway-metrics", daemon=True)
        self._thread.start()

    def add(self, row: MetricRow) -> None:
        with self._lock:
            self._points.append(row)
            full = len(self._points) >= self._max_points
        if full:
            self._wake.set()

    def extend(self, rows: list[MetricRow]) -> None:
        with self._lock:
            self._points.extend(rows)
            full = len(self._points) >= self._max_points
        if full:
            self._wake.set()

    def __len__(self) -> int:
        return len(self._points)

    def flush(self) -> None:
        """Write every buffered point now; raise if the store refuses them."""
        with self._flush_lock:
            with self._lock:
                batch, self._points = self._points, []
            if not batch:
                return
            try:
                self._write(batch)
            except BaseException:
                with self._lock:
                    self._points[:0] = batch
                raise

    def close(self) -> None:
        """Stop the background writer and flush what is left."""
        self._closed = True
        self._wake.set()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.flush()
            except Exception as exc:  # the points stay buffered; close() retries and raises
                log.warning("headway: could not write metrics yet, will retry: %s", exc)
