"""Generated reviews: reviews/s and new tokens/s of the raw generate loop, and of the reviews job end to end
through a fresh service (``POST /v1/reviews/jobs`` in its embedded worker), on the same items.

The items are the first ``--items`` ML-100K movies (their own catalog fields only); each gets ``--per-item``
reviews. The raw loop is ``app.generator.reviews.write`` on a loaded generator; the job's rate is the one it
reports (generation and storing, from its first batch to its last: the model's load, once a process, apart).

    python -m scripts.bench_generator                     # CPU; about 3 minutes
    python -m scripts.bench_generator --device cuda       # where a GPU is present
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.core.config import Settings
from app.evaluation import datasets, service_run
from app.evaluation.protocols import Indexed
from app.generator import Generator
from app.generator.reviews import SYSTEM, ItemFields, clean, prompt
from scripts.lib.service import spawned_service

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--items", type=int, default=16)
    p.add_argument("--per-item", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = p.parse_args()
    ds = datasets.load("ml-100k", args.data_root)
    ix = Indexed(ds)
    records = service_run.item_records(ds, ix)[: args.items]
    items = [ItemFields(r["item_id"], r.get("title"), r.get("category"), r.get("description"),
                        r.get("attributes") or {}) for r in records]
    batch = Settings(_env_file=None).generator_batch_size

    start = time.perf_counter()
    generator = Generator(device=args.device)
    load_s = time.perf_counter() - start
    asks = [item for item in items for _ in range(args.per_item)]
    start, tokens, reviews = time.perf_counter(), 0, 0
    for n in range(0, len(asks), batch):  # reviews.write's loop, with the answers' tokens counted
        answers = generator.chat_many([prompt(i) for i in asks[n: n + batch]], system=SYSTEM, seed=n)
        tokens += sum(len(generator.tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
        reviews += sum(clean(a) is not None for a in answers)
    raw_s = time.perf_counter() - start
    raw = {"reviews/s": len(asks) / raw_s, "kept": reviews, "tokens/s": tokens / raw_s}
    print(f"raw loop on {generator.device}: loaded in {load_s:.1f} s; {len(asks)} answers in {raw_s:.1f} s: "
          f"{raw['reviews/s']:.2f} reviews/s ({reviews} kept), {raw['tokens/s']:.1f} new tokens/s", flush=True)

    env = {"SEMREC_DEVICE": args.device, "SEMREC_GENERATOR_BATCH_SIZE": str(batch)}
    with spawned_service(env=env) as svc:
        assert svc.call("POST", "/v1/items/batch", json={"items": records}).status_code == 200
        start = time.perf_counter()
        body = {"max_per_item": args.per_item, "item_ids": [i.item_id for i in items]}
        job = service_run.run_job(svc, "/v1/reviews/jobs", body, log=lambda *_: None)
        wall_s = time.perf_counter() - start
    if job["status"] != "succeeded":
        sys.exit(f"reviews job {job['status']}: {job.get('error')}")
    result = job["result"]
    asked = len(asks)
    job_rate = result["reviews_per_s"] * asked / max(1, result["reviews"])  # answers/s, as the raw loop's
    print(f"job end to end: {result['reviews']} reviews kept of {asked}, {job_rate:.2f} answers/s while generating"
          f" ({100 * job_rate / raw['reviews/s']:.0f}% of the raw loop); {wall_s:.1f} s from POST to succeeded,"
          f" the model's load in the worker included")
    print("\n| path | device | answers | reviews kept | answers/s | new tokens/s | wall s |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| raw generate loop | {generator.device} | {asked} | {reviews} | {raw['reviews/s']:.2f} | "
          f"{raw['tokens/s']:.1f} | {raw_s:.1f} (+{load_s:.1f} load) |")
    print(f"| reviews job (service) | {generator.device} | {asked} | {result['reviews']} | {job_rate:.2f} | | "
          f"{wall_s:.1f} (load included) |")


if __name__ == "__main__":
    main()
