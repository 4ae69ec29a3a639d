"""How the blend weights of the terms appended to the ranking factors were chosen, on validation splits carved
from each data set's *training* events by the protocol's own rule, never on its test events:

- ``neighbourhood_weight`` (item-kNN) on P2: P2's training events, split again by the P2 rule;
- ``content_weight`` (TF-IDF for items without events) on P3: P3's training events, 20% of their items with
  at least 5 events made cold again by the P3 rule.

Prints the metrics of semrec's default fit for each weight, the other weight at its default.

    python scripts/analyse_terms.py                          # ML-100K and every Amazon category present
    python scripts/analyse_terms.py --terms content --weights 0,0.5,1
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.config import Settings  # noqa: E402
from app.encoder.model import Encoder  # noqa: E402
from app.evaluation import datasets, methods  # noqa: E402
from app.evaluation.protocols import Indexed, p2_temporal, p3_cold_items, ranking_metrics  # noqa: E402
from app.trainer.types import TrainParams  # noqa: E402

TERMS = {"neighbourhood": ("neighbourhood_weight", p2_temporal, (10, 20)),
         "content": ("content_weight", p3_cold_items, (10,))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="")
    p.add_argument("--terms", default="neighbourhood,content")
    p.add_argument("--weights", default="0,0.25,0.5,1,2")
    p.add_argument("--seed", type=int, default=0, help="the training seed")
    args = p.parse_args()
    encoder, settings = Encoder(device="cpu"), Settings()
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    for name in names:
        ds = datasets.load(name, args.data_root)
        for term in args.terms.split(","):
            field, rule, ks = TERMS[term]
            inner = ds.subset(rule(Indexed(ds)).train)  # the protocol's training events only
            inner.user_text = ds.user_text
            ix = Indexed(inner)
            split = rule(ix)
            texts = ix.texts(split.train, settings.item_review_texts, settings.user_review_texts)
            task = ix.task(split.train, item_vectors=encoder.encode(texts[0]),
                           user_vectors=encoder.encode(texts[1]) if any(texts[1]) else None, texts=texts)
            for w in map(float, args.weights.split(",")):
                params = replace(TrainParams(device="cpu", seed=args.seed), **{field: w})
                scores = methods.semrec_ranker(params)(task)(split.eval_users)
                m = ranking_metrics(scores, split.eval_users, split, ix, ks)
                print(f"{name:22s} {term:13s} weight {w:<5g} " + "  ".join(f"{k} {v:.4f}" for k, v in m.items()),
                      flush=True)


if __name__ == "__main__":
    main()
