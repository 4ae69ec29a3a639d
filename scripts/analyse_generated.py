"""How the default of ``SEMREC_ITEM_TEXT_GENERATED`` was chosen: P6 (P3 with and without generated reviews for
the cold items, through the service) on a validation split carved from P2's *training* events by the P2 rule
(as scripts/analyse_conversation.py carves), never on the test users of docs/evaluation-p6.md.

    python -m scripts.analyse_generated            # ML-100K and every Amazon category present; ~15 minutes
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.evaluation import datasets, generated
from scripts.lib.protocols import carve
from scripts.lib.service import spawned_service

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="")
    args = p.parse_args()
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    rows = []
    for name in names:
        ds, ix = carve(datasets.load(name, args.data_root))
        print(f"\n{name} (P2's training events, split again by the P2 rule, then P3): {len(ds)} events", flush=True)
        out = generated.run_p6(ds, ix, spawned_service, log=lambda *_: None)
        plain, with_generated = out["own text only"], out["with generated reviews"]
        rows.append((name, plain["ndcg@10"], with_generated["ndcg@10"], out["generation"]))
        print(f"  own text only ndcg@10 {plain['ndcg@10']:.4f}   with generated reviews {with_generated['ndcg@10']:.4f}"
              f"   ({out['generation']['reviews']} reviews for {out['cold_items']} cold items)", flush=True)
    print("\n| data set, validation | own text only ndcg@10 | with generated reviews ndcg@10 | change |\n"
          "| --- | --- | --- | --- |")
    for name, a, b, _ in rows:
        print(f"| {name} | {a:.4f} | {b:.4f} | {b - a:+.4f} |")


if __name__ == "__main__":
    main()
