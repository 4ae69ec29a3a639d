"""How far semrec's default fit moves with the training seed alone, on the fixed splits of P2-P4.

The service trains once, on the store's event and item order, which is not the library's: its figure is one
more draw from this spread (docs/evaluation-service.md, "through the service", sits beside the library's seed-0
figure). The peers (item-kNN, EASE, TF-IDF) are deterministic: their single figure is compared with the spread.

    python -m scripts.seed_spread                  # every data set, P2-P4, seeds 0-5 -> docs/seed-spread.{json,md}
    python -m scripts.seed_spread --datasets amazon2018-giftcards --protocols P2 --seeds 0,1,2 --out /tmp/spread
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.encoder.model import Encoder
from app.evaluation import datasets, methods
from app.evaluation.protocols import Indexed, evaluate_ranker
from app.trainer.types import TrainParams
from scripts.lib.protocols import KS, SPLITS, split_inputs, text_vectors

ROOT = Path(__file__).resolve().parents[1]

DEFAULT = "semrec: semantic init + text map"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="")
    p.add_argument("--protocols", default="P2,P3,P4")
    p.add_argument("--seeds", default="0,1,2,3,4,5")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "seed-spread", help="writes .json and .md")
    p.add_argument("--replot", action="store_true", help="only rewrite the markdown from --out's JSON")
    args = p.parse_args()
    if args.replot:
        write_outputs(args.out, json.loads(args.out.with_suffix(".json").read_text()))
        return
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    encoder = Encoder(device="cpu")
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    rows = []
    for name in names:
        ds = datasets.load(name, args.data_root)
        ix = Indexed(ds)
        vectors = text_vectors(ix, encoder)
        for protocol in args.protocols.split(","):
            split = SPLITS[protocol](ix)
            inputs = split_inputs(ix, split.train, encoder, vectors)
            figures = []
            for seed in seeds:
                fit_started = time.perf_counter()
                params = replace(TrainParams(device="cpu", seed=seed), **methods.ABLATIONS[DEFAULT])
                r = evaluate_ranker(methods.semrec_ranker(params), ix, split, KS[protocol], **inputs)
                figures.append(r["ndcg@10"])
                print(f"{name} {protocol} seed {seed}: ndcg@10 {r['ndcg@10']:.4f} recall@10 {r['recall@10']:.4f}"
                      f" ({time.perf_counter() - fit_started:.0f} s)", flush=True)
            f = np.array(figures)
            rows.append({"dataset": name, "protocol": protocol, "users": int(len(split.eval_users)),
                         "seeds": seeds, "ndcg@10": figures, "mean": float(f.mean()), "std": float(f.std(ddof=1))
                         if len(f) > 1 else 0.0, "min": float(f.min()), "max": float(f.max())})
    report = {"command": " ".join(["python -m scripts.seed_spread", *sys.argv[1:]]),
              "seconds": round(time.perf_counter() - started), "rows": rows}
    write_outputs(args.out, report)
    print(table(report))


def table(report: dict) -> str:
    lines = ["| data set | protocol | users | NDCG@10 mean | std | min | max | seeds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["rows"]:
        lines.append(f"| {r['dataset']} | {r['protocol']} | {r['users']} | {r['mean']:.4f} | {r['std']:.4f} | "
                     f"{r['min']:.4f} | {r['max']:.4f} | {len(r['seeds'])} |")
    return "\n".join(lines)


def write_outputs(out: Path, report: dict) -> None:
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text("\n".join([
        "# semrec's default fit across training seeds", "",
        f"Command: `{report['command']}`" + (f" ({report['seconds']} s)" if report.get("seconds") else "")
        + ". The fixed splits of P2-P4, the library's default ranker (`semrec: semantic init + text map`, the "
        "service's fit) trained with each seed.", "",
        table(report), ""]))


if __name__ == "__main__":
    main()
