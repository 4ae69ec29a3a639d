"""How the segments' defaults were chosen: the coherence of segments (``app.evaluation.context_run``: each
segment's top-category share of its members' events against the overall share) for the trained factors of the
service's default fit, clustered with several text weights and segment counts, on a validation split carved
from P2's training events by the P2 rule (ML-100K's genres as categories).

    python -m scripts.analyse_segments             # ~2 minutes
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.encoder.model import Encoder
from app.evaluation import datasets, methods
from app.evaluation.context_run import segment_coherence
from app.evaluation.protocols import p2_temporal
from app.segments import model as segments
from app.trainer.fit import fit
from app.trainer.types import TrainParams
from scripts.lib.protocols import carve

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--text-weights", default="0,0.5,1")
    p.add_argument("--counts", default="4,8,16")
    args = p.parse_args()
    ds, ix = carve(datasets.load(args.dataset, args.data_root))
    split = p2_temporal(ix)
    encoder = Encoder(device="cpu")
    task = ix.task(split.train, encoder.encode(ix.item_texts),
                   encoder.encode(ix.user_texts) if any(ix.user_texts) else None)
    params = TrainParams()
    data = methods.served_data(task, params)
    factors = fit(data, replace(params, objective="ranking"))
    taste = factors.factor_user_factors
    print("| text weight | segments | min ratio | mean ratio | smallest segment | random min ratio |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for weight in map(float, args.text_weights.split(",")):
        segments.TEXT_WEIGHT = weight
        x = segments.vectors(taste, data.user_text, data.user_has_text)
        for count in map(int, args.counts.split(",")):
            of_user = segments.cluster(x, count)
            members = {s: [ix.user_ids[u] for u in np.flatnonzero(of_user == s)] for s in range(of_user.max() + 1)}
            c = segment_coherence(members, ds, ix, split)
            ratios = [s["ratio"] for s in c["segments"]]
            print(f"| {weight} | {len(members)} | {c['min_ratio']} | {np.mean(ratios):.3f} | "
                  f"{min(len(m) for m in members.values())} | {c['random_min_ratio']} |", flush=True)


if __name__ == "__main__":
    main()
