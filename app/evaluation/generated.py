"""P6 (shared PROTOCOLS.md): P3 twice through the service, in the same run: the cold items with their own
text only, and with generated reviews read by the encoder (``SEMREC_ITEM_TEXT_GENERATED=true``). The
reviews are written by the service's own job (``POST /v1/reviews/jobs``) for P3's cold items, after ingest and
before training, from each item's catalog fields only: the held-out events never reach the service.

    out = run_p6(ds, ix)   # {"own text only": {...P3}, "with generated reviews": {...P3}, "generation": {...}}
"""

from __future__ import annotations

from app.evaluation.datasets import Dataset
from app.evaluation.protocols import Indexed, p3_cold_items
from app.evaluation.service_run import run_job, run_protocol

MAX_PER_ITEM = 2  # the job's default


def run_p6(ds: Dataset, ix: Indexed, spawned_service, log=print, max_per_item: int = MAX_PER_ITEM) -> dict:
    """``spawned_service(env=...)``: a fresh semrec per run (``scripts.lib.service.spawned_service``)."""
    cold = [ix.item_ids[i] for i in p3_cold_items(ix).candidates]

    def write_reviews(svc) -> dict:
        job = run_job(svc, "/v1/reviews/jobs", {"item_ids": cold, "max_per_item": max_per_item}, log)
        if job["status"] != "succeeded":
            raise RuntimeError(f"reviews job {job['status']}: {job.get('error')}")
        result = dict(job["result"])
        result["seconds_per_item"] = round(result["seconds"] / max(1, result["items"]), 3)
        sample = svc.call("GET", f"/v1/items/{cold[0]}/generated-reviews").json().get("reviews", [])
        result["example"] = {"item_id": cold[0], "reviews": [r["text"] for r in sample]}
        log(f"      generated {result['reviews']} reviews for {result['items']} cold items in {result['seconds']:.0f} s"
            f" ({result['seconds_per_item']:.2f} s an item, {result.get('model')})")
        return result

    with spawned_service() as svc:
        plain = run_protocol(svc, "P3", ds, ix, log=log)
    with spawned_service(env={"SEMREC_ITEM_TEXT_GENERATED": "true"}) as svc:
        generated = run_protocol(svc, "P3", ds, ix, log=log, before_train=write_reviews)
    return {"own text only": plain, "with generated reviews": generated,
            "generation": generated.get("before_train", {}), "cold_items": len(cold)}
