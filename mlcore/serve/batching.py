"""Micro-batching: requests that wait at the same moment go through the model in one call.

On by default: `max_wait_ms=0` merges only requests already parsed when the loop turns, so a lone
request is not delayed; `max_batch=1` turns it off. A flush is one model call on the loop's thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np


class MicroBatcher:
    """Collects requests until `max_batch` rows or `max_wait_s` seconds, then predicts them."""

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        max_batch: int,
        max_wait_s: float,
        on_call: Callable[[int], None] | None = None,
    ) -> None:
        self.predict = predict
        self.on_call = on_call  # told the rows of each model call (the metrics)
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.pending: list[tuple[np.ndarray, asyncio.Future[Any]]] = []
        self.rows = 0
        self.timer: asyncio.Handle | None = None

    async def submit(self, features: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((features, future))
        self.rows += len(features)
        if self.rows >= self.max_batch:
            self.flush()
        elif self.timer is None:
            # 0 s: whatever else is already waiting on this turn of the loop joins the call.
            self.timer = loop.call_later(self.max_wait_s, self.flush)
        return await future

    def flush(self) -> None:
        import numpy as np

        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        pending, self.pending, self.rows = self.pending, [], 0
        if not pending:
            return
        try:
            outputs = self.predict(np.concatenate([features for features, _ in pending]))
        except Exception as error:
            for _, future in pending:
                if not future.done():
                    future.set_exception(error)
            return
        if self.on_call is not None:
            self.on_call(len(outputs))
        start = 0
        for features, future in pending:
            if not future.done():  # a client that went away cancelled its future
                future.set_result(outputs[start : start + len(features)])
            start += len(features)
