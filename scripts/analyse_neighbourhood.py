"""How the item-kNN term's blend weight (``TrainParams.neighbourhood_weight``) was chosen: on validation splits
carved from each data set's P2 *training* events by the P2 rule (each user's last 20%), never on P2's test
events. Prints NDCG@10 and Recall@10/20 of semrec's default fit for each weight.

    python scripts/analyse_neighbourhood.py                  # ML-100K and every Amazon category present
    python scripts/analyse_neighbourhood.py --weights 0,1,2
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
from app.evaluation.protocols import Indexed, p2_temporal, ranking_metrics  # noqa: E402
from app.trainer.types import TrainParams  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="")
    p.add_argument("--weights", default="0,0.25,0.5,1,2")
    args = p.parse_args()
    encoder, settings = Encoder(device="cpu"), Settings()
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    for name in names:
        ds = datasets.load(name, args.data_root)
        inner = ds.subset(p2_temporal(Indexed(ds)).train)  # P2's training events only
        inner.user_text = ds.user_text
        ix = Indexed(inner)
        split = p2_temporal(ix)
        item_texts, user_texts = ix.texts(split.train, settings.item_review_texts, settings.user_review_texts)
        task = ix.task(split.train, item_vectors=encoder.encode(item_texts),
                       user_vectors=encoder.encode(user_texts) if any(user_texts) else None,
                       texts=(item_texts, user_texts))
        for w in map(float, args.weights.split(",")):
            params = replace(TrainParams(device="cpu"), neighbourhood_weight=w)
            scores = methods.semrec_ranker(params)(task)(split.eval_users)
            m = ranking_metrics(scores, split.eval_users, split, ix, (10, 20))
            print(f"{name:24s} weight {w:<5g} " + "  ".join(f"{k} {v:.4f}" for k, v in m.items()), flush=True)


if __name__ == "__main__":
    main()
