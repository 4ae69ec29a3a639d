"""Offline evaluation on the shared data sets under the fixed protocols (shared PROTOCOLS.md P1-P5).

semrec's own trainer (the same ``app.trainer.fit.fit`` the service's training job runs) in three ablations,
next to references and peer libraries, on the same splits in the same run. Writes JSON, a markdown table and
a PNG chart.

    python -m scripts.evaluate                                   # everything under ../shared/data -> docs/
    python -m scripts.evaluate --datasets ml-100k --protocols P2,P3
    python -m scripts.evaluate --smoke --out /tmp/eval           # a small slice, for CI
    python -m scripts.evaluate --protocols P5 --out docs/evaluation-p5   # conversations, through the service
    python -m scripts.evaluate --protocols P6 --out docs/evaluation-p6   # generated reviews, through the service
P5 (simulated shoppers) runs through a fresh service (`python -m app` on SQLite): conversations are the
service's, so they are measured where a shop meets them (app/evaluation/shoppers.py).
Peers (implicit, Surprise, LightFM) come from scripts/install_bench.sh; a missing one is reported "not installed".
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.core.config import Settings
from app.encoder.model import Encoder
from app.evaluation import datasets, encoders, generated, methods, shoppers
from app.evaluation.protocols import (
    Indexed,
    evaluate_ranker,
    package_versions,
    rmse_mae,
)
from app.trainer.types import TrainParams
from scripts.lib.protocols import KS, SPLITS, split_inputs, text_vectors
from scripts.lib.service import spawned_service

ROOT = Path(__file__).resolve().parents[1]
SIMPLE = {"item-kNN (cosine)": methods.item_knn, "EASE": methods.ease, "content TF-IDF": methods.tfidf_content,
          "content TF-IDF + own reviews": methods.tfidf_content_reviews}
PEERS = {
    "P1": {"global mean": methods.global_mean, "Surprise SVD": methods.surprise_svd,
           "Surprise SVD++": methods.surprise_svdpp},
    "P2": {"popularity": methods.popularity, **SIMPLE, "implicit ALS": methods.implicit_als,
           "implicit BPR": methods.implicit_bpr, "LightFM WARP + item features": methods.lightfm_warp},
    "P3": {"random": methods.random_ranking, **SIMPLE, "LightFM WARP + item features": methods.lightfm_warp},
    "P4": {"popularity": methods.popularity, **SIMPLE, "implicit ALS": methods.implicit_als,
           "implicit BPR": methods.implicit_bpr},
}
REVIEWS_ONLY = {"content TF-IDF + own reviews"}  # the same as content TF-IDF where users have no text of their own
HEADLINE = {"P1": "rmse", "P2": "ndcg@10", "P3": "ndcg@10", "P4": "ndcg@10", "P5": "success@5", "P6": "ndcg@10"}
P5_METRICS = [f"success@{t}" for t in range(1, shoppers.TURNS + 1)]
KEPT_ABOVE = "<!-- The tables below are written by scripts/evaluate.py; it keeps everything above this line. -->"


def run_method(fn):
    """(result dict, seconds) or a status for a peer that is not installed or failed."""
    start = time.perf_counter()
    try:
        out = fn()
    except methods.NotInstalled as exc:
        return {"status": f"not installed ({exc})"}
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


def p1(ds: datasets.Dataset, ix: Indexed, vectors: dict, params: TrainParams, folds: list[int]) -> dict:
    if not ds.rating_folds:
        return {"_skipped": "no predefined rating folds in this data set"}
    candidates = {name: methods.semrec_rater(replace(params, **ab)) for name, ab in methods.RATING_ABLATIONS.items()}
    candidates.update(PEERS["P1"])
    results = {}
    for name, method in candidates.items():
        def folds_run(method=method):
            rmse, mae, seconds = [], [], []
            for k in folds:
                train, test = ds.rating_folds[k]
                start = time.perf_counter()
                predict = method(ix.task(train, **vectors))
                seconds.append(time.perf_counter() - start)
                r, m = rmse_mae(predict(ix.u[test], ix.i[test]), ds.ratings[test])
                rmse.append(r)
                mae.append(m)
            return {"rmse": float(np.mean(rmse)), "mae": float(np.mean(mae)),
                    "rmse_per_fold": [round(x, 4) for x in rmse], "train_seconds_per_fold": float(np.mean(seconds))}
        results[name] = run_method(folds_run)
        print(f"    P1 {name:38s} {_fmt(results[name], 'rmse')}", flush=True)
    return results


def ranking(protocol: str, ix: Indexed, encoder: Encoder, vectors: dict, params: TrainParams) -> dict:
    split = SPLITS[protocol](ix)
    inputs = split_inputs(ix, split.train, encoder, vectors)
    candidates = {name: methods.semrec_ranker(replace(params, **ab)) for name, ab in methods.ABLATIONS.items()}
    candidates.update({n: m for n, m in PEERS[protocol].items() if n not in REVIEWS_ONLY or ix.ds.reviews is not None})
    results = {"_users": int(len(split.eval_users))}
    for name, method in candidates.items():
        results[name] = run_method(lambda method=method: evaluate_ranker(method, ix, split, KS[protocol], **inputs))
        print(f"    {protocol} {name:38s} {_fmt(results[name], 'ndcg@10')}", flush=True)
    return results


def encoder_ablation(ix: Indexed, names: list[str], params: TrainParams, vectors_of: dict) -> dict:
    """P3 and P4 with semrec's default fit reading each encoder's vectors (the packaged sentence model against
    a GPT-2-family causal LM, mean-pooled alike), with what encoding the split's texts cost."""
    out = {}
    for name in names:
        start = time.perf_counter()
        encoder = vectors_of.get(name) or encoders.load(name)
        row = {"load_seconds": round(time.perf_counter() - start, 1), "dim": encoder.dim}
        encoded: dict[int, tuple] = {}  # texts that do not depend on the split (no reviews) are encoded once
        for protocol in ("P3", "P4"):
            split = SPLITS[protocol](ix)
            settings = Settings()
            item_texts, user_texts = ix.texts(split.train, settings.item_review_texts, settings.user_review_texts)
            key = hash((tuple(item_texts), tuple(user_texts)))
            if key not in encoded:
                item_vectors, rate = encoders.timed_encode(encoder, item_texts)
                encoded[key] = (item_vectors, rate, encoder.encode(user_texts) if any(user_texts) else None)
            item_vectors, rate, user_vectors = encoded[key]
            inputs = {"texts": (item_texts, user_texts), "item_vectors": item_vectors}
            if user_vectors is not None:
                inputs["user_vectors"] = user_vectors
            result = run_method(lambda inputs=inputs, split=split, protocol=protocol: evaluate_ranker(
                methods.semrec_ranker(params), ix, split, KS[protocol], **inputs))
            row[protocol] = {**result, "item_texts_per_second": round(rate, 1)}
            print(f"    encoders {name:8s} {protocol} {_fmt(result, 'ndcg@10')}  ({rate:.0f} item texts/s)", flush=True)
        out[name] = row
    return out


def _fmt(result: dict, key: str) -> str:
    if "status" in result:
        return result["status"]
    return f"{key} {result[key]:.4f}  ({result['seconds']:.1f} s)"


def smoke_slice(ds: datasets.Dataset, n_users: int) -> datasets.Dataset:
    keep_users = set(sorted(np.unique(ds.users), key=lambda u: int(u) if u.isdigit() else u)[:n_users])
    mask = np.array([u in keep_users for u in ds.users])
    small = ds.subset(mask)
    small.user_text = ds.user_text
    small.rating_folds = [(tr[mask], te[mask]) for tr, te in ds.rating_folds[:1]]
    return small


def p6(ds: datasets.Dataset, ix: Indexed) -> dict:
    """P6 through the service (app/evaluation/generated.py), as rows like P3's."""
    out = generated.run_p6(ds, ix, spawned_service)
    rows = {}
    for name in ("own text only", "with generated reviews"):
        r = out[name]
        if "error" in r:
            rows[f"semrec service, {name}"] = {"status": r["error"]}
            continue
        rows[f"semrec service, {name}"] = {"recall@10": r["recall@10"], "ndcg@10": r["ndcg@10"],
                                           "seconds": sum(r["phases"].values())}
    rows["_users"] = out["own text only"].get("users")
    rows["_generation"] = out["generation"]
    rows["_cold_items"] = out["cold_items"]
    return rows


def write_outputs(out: Path, report: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    lines = [f"Command: `{report['command']}`  ", f"Total time: {report['seconds']:.0f} s  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), ""]
    for ds_name, protocols in report["results"].items():
        for protocol, results in protocols.items():
            if "_skipped" in results:
                lines += [f"**{ds_name} {protocol}**: skipped ({results['_skipped']})", ""]
                continue
            metrics = (["rmse", "mae", "train_seconds_per_fold"] if protocol == "P1" else P5_METRICS
                       if protocol == "P5" else [f"{m}@{k}" for k in KS[protocol] for m in ("recall", "ndcg")]
                       + ["seconds"])
            who = "shoppers" if protocol == "P5" else "test users"
            users = f", {results['_users']} {who}" if "_users" in results else ""
            lines += [f"**{ds_name} {protocol}**{users}", "", "| method | " + " | ".join(metrics) + " |",
                      "| --- |" + " --- |" * len(metrics)]
            for name, r in results.items():
                if name.startswith("_"):
                    continue
                cells = [r["status"]] + [""] * (len(metrics) - 1) if "status" in r else [
                    f"{r[m]:.4f}" if m not in ("seconds", "train_seconds_per_fold") else f"{r[m]:.1f}" for m in metrics]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            if protocol == "P6" and results.get("_generation"):
                g = results["_generation"]
                lines += [f"Generated by {g.get('model')} (prompt {g.get('prompt_version')}): "
                          f"{g.get('reviews')} reviews for {g.get('items')} cold items in {g.get('seconds', 0):.0f} s, "
                          f"{g.get('seconds_per_item', 0):.2f} s an item. Example ({g['example']['item_id']}): "
                          + " / ".join(f"\"{t}\"" for t in g["example"]["reviews"]), ""]
            lines.append("")
    if report.get("encoder_ablation"):
        lines += ["**Encoder ablation**: semrec's default fit on P3 and P4 reading each encoder's vectors "
                  "(attention-masked mean pooling of the last hidden state for both)", "",
                  "| data set | encoder | dim | P3 recall@10 | P3 ndcg@10 | P4 recall@10 | P4 ndcg@10 | item texts/s |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for ds_name, rows in report["encoder_ablation"].items():
            for enc_name, row in rows.items():
                cells = [f"{row[p][m]:.4f}" if m in row[p] else row[p].get("status", "") for p in ("P3", "P4")
                         for m in ("recall@10", "ndcg@10")]
                lines.append(f"| {ds_name} | {enc_name} | {row['dim']} | " + " | ".join(cells)
                             + f" | {row['P3']['item_texts_per_second']:.0f} |")
        lines.append("")
    md = out.with_suffix(".md")
    previous = md.read_text() if md.is_file() else ""
    kept = previous.split(KEPT_ABOVE)[0] + KEPT_ABOVE + "\n\n" if KEPT_ABOVE in previous else ""
    md.write_text(kept + "\n".join(lines))  # the hand-written summary above the marker stays
    _plot(out.with_suffix(".png"), report)


def _plot(path: Path, report: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    grid = [(d, p, r) for d, ps in report["results"].items() for p, r in ps.items()]
    rows, cols = list(report["results"]), sorted({p for _, p, _ in grid})
    if not grid:
        return
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(4.4 * len(cols), 3.6 * len(rows)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ds_name, protocol, results in grid:
        if "_skipped" in results:
            continue
        ax = axes[rows.index(ds_name)][cols.index(protocol)]
        ax.axis("on")
        key = HEADLINE[protocol]
        names = [n for n, r in results.items() if not n.startswith("_") and "status" not in r]
        values = [results[n][key] for n in names]
        colors = ["tab:blue" if n.startswith("semrec") else "tab:gray" for n in names]
        ax.barh(range(len(names)), values, color=colors)
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.3f}", va="center", fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{ds_name} {protocol}: {key}" + (" (lower is better)" if key == "rmse" else ""), fontsize=9)
        ax.set_xlim((min(values) - 0.05, max(values) + 0.06) if key == "rmse" else (0, max(values) * 1.25))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="", help="comma-separated (default: every data set present)")
    p.add_argument("--protocols", default="P1,P2,P3,P4")
    p.add_argument("--folds", default="1,2,3,4,5", help="P1 folds")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluation")
    p.add_argument("--smoke", action="store_true", help="100 users, one fold, 3 epochs: proves the pipeline")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--encoders", default="minilm,smollm2",
                   help="the encoder ablation (P3, P4); empty to skip; --smoke skips it")
    p.add_argument("--replot", type=Path, help="only rewrite the markdown and PNG from this JSON report")
    args = p.parse_args()
    if args.replot:
        write_outputs(args.replot, json.loads(args.replot.read_text()))
        return

    started = time.perf_counter()
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    protocols = args.protocols.split(",")
    params = TrainParams(device="cpu")
    if args.smoke:
        params = replace(params, epochs=3)
    if args.epochs:
        params = replace(params, epochs=args.epochs)
    folds = [int(k) - 1 for k in args.folds.split(",")]
    encoder = Encoder(device="cpu")
    report = {"command": " ".join(["python -m scripts.evaluate", *map(shlex.quote, sys.argv[1:])]),
              "versions": _versions(), "encoder": encoder.name, "params": vars(params), "results": {}}
    for name in names:
        ds = datasets.load(name, args.data_root)
        if args.smoke:
            ds = smoke_slice(ds, 100)
        ix = Indexed(ds)
        print(f"{name}: {len(ds)} events, {len(ix.user_ids)} users, {len(ix.item_ids)} items", flush=True)
        vectors = text_vectors(ix, encoder)
        results = {}
        for protocol in protocols:
            if protocol == "P1":
                results["P1"] = p1(ds, ix, vectors, params, folds if not args.smoke else [0])
            elif protocol == "P5":
                with spawned_service() as svc:
                    results["P5"] = shoppers.run_p5(svc, ds, ix)
            elif protocol == "P6":
                results["P6"] = p6(ds, ix)
            else:
                results[protocol] = ranking(protocol, ix, encoder, vectors, params)
        report["results"][name] = results
        wanted = [e for e in args.encoders.split(",") if e] if not args.smoke else []
        if wanted and {"P3", "P4"} & set(protocols):
            report.setdefault("encoder_ablation", {})[name] = encoder_ablation(
                ix, wanted, params, {"minilm": encoder})
    report["seconds"] = round(time.perf_counter() - started, 1)
    write_outputs(args.out, report)
    print(f"wrote {args.out.with_suffix('.json')}, .md, .png in {report['seconds']:.0f} s")


def _versions() -> dict[str, str]:
    return package_versions(("torch", "numpy", "transformers", "scikit-learn", "implicit", "scikit-surprise",
                             "lightfm"))


if __name__ == "__main__":
    main()
