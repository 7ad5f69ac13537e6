"""Requests that arrive together share one forward pass.

Each request's thumbnail goes into a queue; one thread takes what has gathered (up to the
batch size, waiting at most a few milliseconds after the first), runs the model once and
hands each request its logits back on the event loop. A lone request waits only that
short time; under load the model runs full batches.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import numpy as np
import torch

from ..model.batch import stack_l, stack_shifts
from ..model.colorizer import Colorizer

MAX_WAIT_S = 0.01


class Batcher:
    """The model behind a queue, driven by one thread."""

    def __init__(self, colorizer: Colorizer, batch_size: int, max_wait: float = MAX_WAIT_S):
        self.colorizer, self.batch_size, self.max_wait = colorizer, batch_size, max_wait
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="model", daemon=True)
        self._thread.start()

    async def logits_and_features(
        self, thumb: np.ndarray, shift: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's logits ``(Q, h, w)`` for one thumbnail, with an optional reference
        shift ``(Q,)``, and its features (what hints need)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[torch.Tensor, torch.Tensor]] = loop.create_future()
        self._queue.put((thumb, shift, future, loop))
        return await future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            end = time.monotonic() + self.max_wait
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, end - time.monotonic())))
                except queue.Empty:
                    break
            self._predict(batch)

    def _predict(self, batch: list) -> None:
        try:
            shifts = stack_shifts([s for _, s, _, _ in batch], len(self.colorizer.centres))
            L = stack_l([t for t, _, _, _ in batch])
            logits, features = self.colorizer.logits_and_features(L, shifts)
            for i, (_, _, future, loop) in enumerate(batch):
                out = (logits[i].cpu(), features[i])
                loop.call_soon_threadsafe(_resolve, future, out, None)
        except Exception as exc:  # every waiting request hears of it
            for _, _, future, loop in batch:
                loop.call_soon_threadsafe(_resolve, future, None, exc)


def _resolve(future: asyncio.Future, value: object, error: BaseException | None) -> None:
    if future.done():  # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
