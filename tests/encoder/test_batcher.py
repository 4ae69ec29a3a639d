import threading

import numpy as np
import pytest

from app.encoder.batcher import QueryBatcher

QUERIES = ["running shoes under $100", "a gift for my dad who loves fishing", "espresso machine", "from the 1980s",
           "something funnier", "no horror", "waterproof hiking jacket for mountain paths in the rain", "gift card"]


class Counted:
    """The packaged encoder, counting its forward passes and the texts in each."""

    def __init__(self, encoder):
        self.inner, self.name, self.dim, self.passes = encoder, encoder.name, encoder.dim, []
        self.gate = threading.Event()
        self.gate.set()

    def encode(self, texts):
        self.passes.append(list(texts))
        self.gate.wait(30)
        return self.inner.encode(texts)


def test_concurrent_queries_share_passes_and_get_their_own_vectors(packaged_encoder):
    counted = Counted(packaged_encoder)
    batcher = QueryBatcher(counted)
    alone = {q: packaged_encoder.encode([q])[0] for q in QUERIES}
    counted.gate.clear()  # the first pass waits, so the other requests queue up behind it
    results: dict[str, np.ndarray] = {}

    def ask(q):
        results[q] = batcher.encode([q])[0]

    threads = [threading.Thread(target=ask, args=(q,)) for q in QUERIES]
    for t in threads:
        t.start()
    for _ in range(3000):  # until every query is in the waiting pass or queued behind it
        if counted.passes and len(counted.passes[0]) + batcher._waiting.qsize() == len(QUERIES):
            break
        threading.Event().wait(0.01)
    counted.gate.set()
    for t in threads:
        t.join(30)
    assert set(results) == set(QUERIES)
    for q in QUERIES:
        np.testing.assert_allclose(results[q], alone[q], atol=1e-5)  # padding in the batch changes nothing
    assert len(counted.passes) == 2 and sorted(sum(counted.passes, [])) == sorted(QUERIES)


def test_the_same_words_twice_are_encoded_once_and_lists_keep_their_order(packaged_encoder):
    counted = Counted(packaged_encoder)
    batcher = QueryBatcher(counted)
    out = batcher.encode(["gift card", "espresso machine", "gift card"])
    np.testing.assert_allclose(out[0], out[2])
    np.testing.assert_allclose(out[1], packaged_encoder.encode(["espresso machine"])[0], atol=1e-5)
    assert all(len(p) == len(set(p)) for p in counted.passes)


def test_an_encoder_error_reaches_the_request_and_the_batcher_goes_on(packaged_encoder):
    batcher = QueryBatcher(packaged_encoder)
    with pytest.raises((TypeError, ValueError)):
        batcher.encode([None])  # the tokenizer refuses it
    assert batcher.encode(["gift card"]).shape == (1, packaged_encoder.dim)
