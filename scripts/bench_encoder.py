"""Encoder throughput: the raw model (tokenise + forward + pool) at several batch sizes, then the worker end
to end (item rows in the store -> embedding job -> vectors in the store) on 5,000 item texts, and the cost of
a GPT-2-small-shaped model (randomly initialised, same shapes) for comparison.

    python -m scripts.bench_encoder                       # packaged model, SQLite store in a temp dir
    python -m scripts.bench_encoder --database-url postgresql+psycopg://postgres@127.0.0.1/test --gpt2-texts 0
"""

import argparse
import json
import os
import random
import tempfile
import time
import uuid

import torch

from app.core.config import Settings
from app.encoder.model import Encoder
from app.encoder.texts import item_text
from app.store import crud, migrate, queue
from app.store.db import make_engine, make_sessionmaker
from app.store.models import Job
from app.worker.runner import Worker

ADJ = ["lightweight", "waterproof", "classic", "ergonomic", "compact", "premium", "rechargeable", "organic"]
THING = ["trail running shoes", "rain jacket", "espresso machine", "desk lamp", "backpack", "yoga mat",
         "bluetooth speaker", "chef's knife", "gift card", "water bottle", "wool socks", "phone case"]
USE = ["mountain paths", "daily commutes", "small kitchens", "home offices", "long flights", "rainy weekends"]
CATEGORY = ["outdoor", "kitchen", "electronics", "home", "fashion", "gifts"]


def product_items(n: int, seed: int = 0) -> list[dict]:
    """Synthetic catalog rows whose encoder text is about 25 tokens, like a short product listing."""
    rng = random.Random(seed)
    return [{"item_id": f"bench-{i}", "title": f"{rng.choice(ADJ).capitalize()} {rng.choice(THING)}",
             "description": f"Made for {rng.choice(USE)}, model {rng.randrange(1000)}.",
             "category": rng.choice(CATEGORY), "price": round(rng.uniform(5, 300), 2),
             "attributes": {"brand": f"Brand{rng.randrange(50)}"}, "available": True} for i in range(n)]


def raw_rate(encoder: Encoder, texts: list[str], batch_size: int) -> float:
    encoder.batch_size = batch_size
    encoder.encode(texts[: batch_size * 2])  # warm up
    start = time.perf_counter()
    encoder.encode(texts)
    return len(texts) / (time.perf_counter() - start)


def worker_rate(encoder: Encoder, items: list[dict], database_url: str) -> tuple[float, dict]:
    data_dir = tempfile.mkdtemp(prefix="semrec-bench-enc-")
    settings = Settings(database_url=database_url or f"sqlite:///{data_dir}/bench.db", data_dir=data_dir,
                        encoder_batch_size=encoder.batch_size, _env_file=None)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        crud.upsert_items(s, items)
        job_id = queue.enqueue(s, "embedding", {"target": "items", "only_stale": False}).job_id
    start = time.perf_counter()
    Worker(sessions, settings, encoder=encoder).run_once()
    seconds = time.perf_counter() - start
    with sessions() as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded", job.error
        result = job.result
    engine.dispose()
    return result["encoded"] / seconds, result


def gpt2_small_rate(texts: list[str], batch_sizes: list[int]) -> dict[int, float]:
    """GPT-2 small's shapes (12 layers, 768 wide, 50,257 tokens) with random weights and our own BPE tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2Model, GPT2TokenizerFast

    folder = tempfile.mkdtemp(prefix="semrec-gpt2-small-")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts * 3, vocab_size=2000, min_frequency=1, special_tokens=["<|endoftext|>"])
    tok = GPT2TokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                            unk_token="<|endoftext|>")
    tok.save_pretrained(folder)
    GPT2Model(GPT2Config()).save_pretrained(folder)
    encoder = Encoder(folder, device=os.environ.get("SEMREC_DEVICE", "auto"))
    tokens = sum(len(tok(t)["input_ids"]) for t in texts) / len(texts)
    print(f"  GPT-2-small-shaped: {tokens:.0f} tokens per text on average")
    return {b: raw_rate(encoder, texts, b) for b in batch_sizes}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="", help="encoder model (default: the packaged one)")
    p.add_argument("--device", default="auto")
    p.add_argument("--texts", type=int, default=5000, help="item texts for the worker run")
    p.add_argument("--raw-texts", type=int, default=2000, help="texts per raw-forward measurement")
    p.add_argument("--batch-sizes", default="16,32,64,128,256")
    p.add_argument("--gpt2-texts", type=int, default=200, help="texts for the GPT-2-small cost (0 skips it)")
    p.add_argument("--database-url", default="", help="store for the worker run (default: SQLite in a temp dir)")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args()

    items = product_items(args.texts)
    for item in items:
        item["item_id"] = f"{item['item_id']}-{uuid.uuid4().hex[:6]}"  # fresh rows on a shared database
    texts = [item_text(i["title"], i["category"], i["description"], i["attributes"]) for i in items]
    encoder = Encoder(args.model, device=args.device)
    tokens = sum(len(encoder.tokenizer(t)["input_ids"]) for t in texts[:500]) / 500
    print(f"encoder {encoder.name} on {encoder.device}, torch threads {torch.get_num_threads()}, "
          f"{tokens:.0f} tokens per text on average")

    sizes = [int(b) for b in args.batch_sizes.split(",")]
    raw = {}
    for b in sizes:
        raw[b] = raw_rate(encoder, texts[: args.raw_texts], b)
        print(f"  raw forward  batch {b:>4d}: {raw[b]:8.1f} texts/s")
    best = max(raw, key=raw.get)
    encoder.batch_size = best
    rate, result = worker_rate(encoder, items, args.database_url)
    print(f"  worker end to end ({args.texts} items, batch {best}): {rate:8.1f} texts/s "
          f"= {rate / raw[best]:.0%} of the best raw rate ({raw[best]:.1f})")
    figures = {"model": encoder.name, "device": str(encoder.device), "tokens_per_text": round(tokens, 1),
               "raw_texts_per_s": {b: round(r, 1) for b, r in raw.items()}, "worker_texts_per_s": round(rate, 1),
               "worker_vs_best_raw": round(rate / raw[best], 3), "job_result": result}
    if args.gpt2_texts:
        gpt2 = gpt2_small_rate(texts[: args.gpt2_texts], [8, 32])
        for b, r in gpt2.items():
            print(f"  GPT-2-small-shaped raw forward batch {b:>3d}: {r:8.1f} texts/s")
        figures["gpt2_small_texts_per_s"] = {b: round(r, 1) for b, r in gpt2.items()}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
