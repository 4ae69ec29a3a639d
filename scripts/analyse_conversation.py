"""How the conversation's two weights were chosen: P5 (simulated shoppers, through the service) on a validation
split carved from P2's *training* events by the P2 rule, never on P2's test users.

- ``SEMREC_CONVERSATION_TEXT_WEIGHT``: the words' own channel (cosine to the item texts) beside the factors;
- ``SEMREC_CONVERSATION_QUERY_SHARE``: the words' share of a known user's factor-space vector.

Each setting is a fresh service (SQLite), trained on the carved training events, asked by the carved shoppers.

    python -m scripts.analyse_conversation                        # ML-100K and every Amazon category present
    python -m scripts.analyse_conversation --text-weights 0,1,2 --query-shares 0.5
    python -m scripts.analyse_conversation --text-weights 1 --query-shares 0 --two-step   # two wishes a topic
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from app.evaluation import datasets, shoppers
from scripts.lib.protocols import carve
from scripts.lib.service import spawned_service

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="")
    p.add_argument("--text-weights", default="0,0.5,1,2,4")
    p.add_argument("--query-shares", default="0,0.5")
    p.add_argument("--two-step", action="store_true",
                   help="shoppers say the opening in two messages (two wishes in one topic)")
    args = p.parse_args()
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    grid = [(float(w), float(s)) for w in args.text_weights.split(",") for s in args.query_shares.split(",")]
    metrics = [f"success@{t}" for t in range(1, shoppers.TURNS + 1)]
    for name in names:
        ds, ix = carve(datasets.load(name, args.data_root))
        print(f"\n{name} (P2's training events, split again by the P2 rule): {len(ds)} events")
        rows = []
        for weight, share in grid:
            start = time.perf_counter()
            env = {"SEMREC_CONVERSATION_TEXT_WEIGHT": str(weight), "SEMREC_CONVERSATION_QUERY_SHARE": str(share)}
            with spawned_service(env=env) as svc:
                out = shoppers.run_p5(svc, ds, ix, log=lambda *_: None, two_step=args.two_step)
            rows.append((weight, share, out))
            print(f"  text weight {weight:<4g} query share {share:<4g} "
                  + " ".join(f"{out['semrec conversation'][m]:.3f}" for m in metrics)
                  + f"   paging s@5 {out['paging plain recommendations']['success@5']:.3f}"
                  f"   ({time.perf_counter() - start:.0f} s)", flush=True)
        print(f"\n| {name}, validation | " + " | ".join(metrics) + " |\n| --- |" + " --- |" * len(metrics))
        for weight, share, out in rows:
            print(f"| text weight {weight:g}, query share {share:g} | "
                  + " | ".join(f"{out['semrec conversation'][m]:.3f}" for m in metrics) + " |")
        base = rows[0][2]
        for label in ("paging plain recommendations", "query, paged (10 more a turn)"):
            print(f"| {label} | " + " | ".join(f"{base[label][m]:.3f}" for m in metrics) + " |")


if __name__ == "__main__":
    main()
