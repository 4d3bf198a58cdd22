"""Adaptive batching: concurrent small requests to one model version share one ``predict``.

A scikit-learn ``predict`` on one row costs about as much as on dozens (the cost is input
checking and Python overhead, not arithmetic), so under concurrent load grouping rows
multiplies throughput. Each model version has a queue and a collector task:

- requests are checked *before* they are queued, so a bad one never joins a batch;
- a request that finds the model idle (nothing queued, nothing predicting, nobody else
  arriving) skips the queue and predicts at once: a quiet server pays nothing for batching.
  If it is small and the model has been measured to predict such rows in under a
  millisecond, it even predicts on the event loop: handing one row to a thread and back
  costs a few hundred microseconds on a loaded machine, more than the prediction blocks a
  loop that has nothing else to do; anything slower or larger goes to a thread;
- otherwise the collector takes what is queued, then waits for more only while other
  requests to the same model are on their way (being read or parsed) or a prediction is
  running, and at most ``max_latency_ms``;
- ``predict`` runs in a thread so the event loop keeps accepting requests meanwhile, and
  the requests that arrive during it form the next batch;
- an exception in ``predict`` fails that batch's requests only, with a 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import numpy as np

from kubeline.serving.errors import InferenceError
from kubeline.serving.models import ServedModel

__all__ = ["INLINE_BUDGET_SECONDS", "INLINE_MAX_ROWS", "Batcher"]

#: A lone request of at most this many rows may predict on the event loop...
INLINE_MAX_ROWS = 8
#: ...when the model's recent predictions of so few rows took less than this.
INLINE_BUDGET_SECONDS = 0.001

log = logging.getLogger("kubeline.serving")


@dataclass
class _Pending:
    rows: np.ndarray
    wants: tuple[str, ...]
    future: asyncio.Future[dict[str, np.ndarray]]


class Batcher:
    """The queue and collector task of one model version."""

    def __init__(
        self,
        model: ServedModel,
        executor: Executor,
        *,
        max_batch_size: int,
        max_latency_ms: float,
        on_predict: Callable[[int], None] | None = None,
    ) -> None:
        self.model = model
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency_ms / 1000.0
        self._executor = executor
        self._on_predict = on_predict or (lambda rows: None)
        self._queue: deque[_Pending] = deque()
        self._arriving = 0  # requests for this model being read and checked
        self._busy = 0  # predict calls running outside the collector
        self._small_cost: float | None = None  # moving average of a small predict, seconds
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._collect(), name=f"batcher-{self.model.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        _fail(list(self._queue), InferenceError(503, "The server is shutting down."))
        self._queue.clear()

    # -- requests --------------------------------------------------------------------------

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Say that a request for this model is being read: the collector may wait for it
        (up to the latency window) instead of sending a batch without it."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1
            if self._arriving == 0:
                self._wake()

    def batches(self, rows: np.ndarray) -> bool:
        """Whether a request of these rows goes through the queue: small ones do, unless
        the model is idle and this request is the only one arriving (call it from within
        :meth:`arriving`)."""
        if rows.shape[0] >= self.max_batch_size:
            return False
        return bool(self._queue) or self._busy > 0 or self._arriving > 1

    def submit(
        self, rows: np.ndarray, wants: tuple[str, ...]
    ) -> asyncio.Future[dict[str, np.ndarray]]:
        """Queue checked rows; the future gets ``{output name: array}`` for these rows."""
        if self._task is None or self._loop is None:
            raise InferenceError(503, "The server is not started.")
        future = self._loop.create_future()
        self._queue.append(_Pending(rows, wants, future))
        self._wake()
        return future

    def predict_now(
        self, rows: np.ndarray, wants: tuple[str, ...]
    ) -> Awaitable[dict[str, np.ndarray]]:
        """Predict without queueing (large or lone requests), still off the event loop.
        Counted as busy from this call on, so that requests arriving meanwhile queue up."""
        self._busy += 1
        return self._predict_now(rows, wants)

    def inlines(self, rows: np.ndarray) -> bool:
        """Whether :meth:`predict_now` runs these rows on the event loop (see the module)."""
        cost = self._small_cost
        return (
            rows.shape[0] <= INLINE_MAX_ROWS and cost is not None and cost < INLINE_BUDGET_SECONDS
        )

    def _timed_run(self, rows: np.ndarray, wants: tuple[str, ...]) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        result = self.model.run(rows, wants)
        if rows.shape[0] <= INLINE_MAX_ROWS:
            cost = time.perf_counter() - started
            last = self._small_cost
            self._small_cost = cost if last is None else 0.8 * last + 0.2 * cost
        return result

    async def _predict_now(self, rows: np.ndarray, wants: tuple[str, ...]) -> dict[str, np.ndarray]:
        loop = asyncio.get_running_loop()
        try:
            if self.inlines(rows):
                result = self._timed_run(rows, wants)
            else:
                result = await loop.run_in_executor(self._executor, self._timed_run, rows, wants)
        except Exception as exc:
            raise _predict_failed(self.model, exc) from exc
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._wake()
        self._on_predict(rows.shape[0])
        return result

    # -- the collector ---------------------------------------------------------------------

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _sleep(self, timeout: float | None) -> None:
        """Until something is queued or a request stops arriving (or ``timeout``)."""
        assert self._loop is not None
        self._wakeup = self._loop.create_future()
        timer = self._loop.call_later(timeout, self._wake) if timeout is not None else None
        try:
            await self._wakeup
        finally:
            self._wakeup = None
            if timer is not None:
                timer.cancel()

    def _take(self, batch: list[_Pending], rows: int) -> int:
        while self._queue and rows + self._queue[0].rows.shape[0] <= self.max_batch_size:
            pending = self._queue.popleft()
            if pending.future.done():  # its client went away
                continue
            batch.append(pending)
            rows += pending.rows.shape[0]
        return rows

    async def _collect(self) -> None:
        assert self._loop is not None
        while True:
            if not self._queue:
                await self._sleep(None)
                continue
            batch: list[_Pending] = []
            try:
                rows = self._take(batch, 0)
                deadline = self._loop.time() + self.max_latency
                while rows < self.max_batch_size and (self._arriving > 0 or self._busy > 0):
                    remaining = deadline - self._loop.time()
                    if remaining <= 0:
                        break
                    await self._sleep(remaining)
                    rows = self._take(batch, rows)
                if batch:
                    await self._run(batch, rows)
            except asyncio.CancelledError:  # stopped mid-batch: its callers must not hang
                _fail(batch, InferenceError(503, "The server is shutting down."))
                raise

    def _predict_batch(
        self, batch: list[_Pending], wants: tuple[str, ...]
    ) -> dict[str, np.ndarray]:
        rows = batch[0].rows if len(batch) == 1 else np.concatenate([p.rows for p in batch])
        return self._timed_run(rows, wants)

    async def _run(self, batch: list[_Pending], rows: int) -> None:
        wants = tuple(dict.fromkeys(name for p in batch for name in p.wants))
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._predict_batch, batch, wants
            )
        except Exception as exc:  # noqa: BLE001 - one batch fails, the server goes on
            _fail(batch, _predict_failed(self.model, exc))
            return
        self._on_predict(rows)
        offset = 0
        for pending in batch:
            n = pending.rows.shape[0]
            if not pending.future.done():
                pending.future.set_result(
                    {name: results[name][offset : offset + n] for name in pending.wants}
                )
            offset += n


def _fail(batch: list[_Pending], error: InferenceError) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(error)


def _predict_failed(model: ServedModel, exc: Exception) -> InferenceError:
    log.error("model %s version %s failed to predict", model.name, model.version, exc_info=exc)
    return InferenceError(
        500, f"Model {model.name} version {model.version} failed to predict: {exc}"
    )
