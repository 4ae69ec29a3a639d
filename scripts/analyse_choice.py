"""The choice per shop against the test events: for each data set and protocol, the library's default ranker
(the service's fit) with the choice on and off, what each choice picked on the shop's own carve, and the
protocol's test figures; ``--margin``/``--min-gain`` replay the choice under another switching rule
(``app.trainer.selection.MARGIN``, ``MIN_GAIN``).

    python -m scripts.analyse_choice                                   # both data sets, P2 and P3
    python -m scripts.analyse_choice --datasets ml-100k --protocols P2 --margin 0.5 --min-gain 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.encoder.model import Encoder
from app.evaluation import datasets, methods
from app.evaluation.protocols import Indexed, evaluate_ranker
from app.trainer import fit as fit_module
from app.trainer import selection
from app.trainer.types import TrainParams
from scripts.lib.protocols import KS, SPLITS, split_inputs, text_vectors

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="")
    p.add_argument("--protocols", default="P2,P3")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--margin", type=float, default=selection.MARGIN)
    p.add_argument("--min-gain", type=float, default=selection.MIN_GAIN)
    args = p.parse_args()
    selection.MARGIN, selection.MIN_GAIN = args.margin, args.min_gain
    chosen: list[dict] = []
    original = fit_module.fit

    def recording_fit(*a, **k):
        f = original(*a, **k)
        chosen.append(f.validation)
        return f

    methods.fit = recording_fit
    encoder = Encoder("")
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    for name in names:
        ds = datasets.load(name, args.data_root)
        ix = Indexed(ds)
        vectors = text_vectors(ix, encoder)
        for protocol in args.protocols.split(","):
            split = SPLITS[protocol](ix)
            inputs = split_inputs(ix, split.train, encoder, vectors)
            for label, select in (("choice on", True), ("choice off", False)):
                chosen.clear()
                ranker = methods.semrec_ranker(TrainParams(select=select, seed=args.seed))
                r = evaluate_ranker(ranker, ix, split, KS[protocol], **inputs)
                print(f"{name} {protocol} {label:10s} test recall@10 {r['recall@10']:.4f} ndcg@10 {r['ndcg@10']:.4f}",
                      flush=True)
                for route, v in (chosen[0] if chosen else {}).items():
                    if isinstance(v, dict) and "candidates" in v:
                        figures = ", ".join(f"{n} {x:.4f}" for n, x in v["candidates"].items())
                        print(f"    carve {route}: chose {v['chosen']} ({v['metric']}: {figures}; "
                              f"evidence {v.get('evidence')})", flush=True)


if __name__ == "__main__":
    main()
