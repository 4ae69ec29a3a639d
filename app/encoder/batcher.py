"""Free-text queries encoded together: the requests that arrive while a forward pass runs share the next one.

On a CPU a short query's forward pass costs what reading the model's weights costs (MiniLM: about 90 MB,
20 ms on the 2-core host of docs/conversation.md), not what its few tokens cost. Four requests encoding at once
in four threads take four times as long as one, and their OpenMP threads fight over the cores. One thread runs
every pass instead, each over all the queries waiting (up to ``max_batch``): under load one pass answers many
requests for the price of one; alone, a query waits for nothing. Padding in a batch changes a vector by float
noise only (the attention mask keeps it out of the mean).

    queries = QueryBatcher(Encoder(...))
    vectors = queries.encode(["running shoes"])    # as Encoder.encode: unit rows, one per text
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

import numpy as np


class QueryBatcher:
    """``Encoder.encode`` for request threads, run by one background thread in batches."""

    def __init__(self, encoder, max_batch: int = 32) -> None:
        self.encoder = encoder
        self.name, self.dim = encoder.name, encoder.dim
        self.max_batch = max_batch
        self._waiting: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="query-encoder", daemon=True).start()

    def encode(self, texts: list[str]) -> np.ndarray:
        futures = []
        for text in texts:
            futures.append(Future())
            self._waiting.put((text, futures[-1]))
        out = np.zeros((len(texts), self.dim), np.float32)
        for n, future in enumerate(futures):
            out[n] = future.result()
        return out

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            texts = list(dict.fromkeys(text for text, _ in batch))  # the same words asked twice: encoded once
            try:
                vectors = self.encoder.encode(texts)
            except BaseException as exc:  # noqa: BLE001 - the requests get the error; this thread goes on
                for _, future in batch:
                    future.set_exception(exc)
                continue
            row = {text: n for n, text in enumerate(texts)}
            for text, future in batch:
                future.set_result(vectors[row[text]])
