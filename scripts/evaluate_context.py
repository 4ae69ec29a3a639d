"""The Context protocol (shared PROTOCOLS.md): P2 through the service, without and with the context of each
test user's first test event, on ML-100K, every Amazon category present and a planted shop whose choices follow
the time of day and the device (``app.evaluation.planted``); and the coherence of the service's segments.
One fresh service per data set, default parameters.

    python -m scripts.evaluate_context                 # -> docs/evaluation-context.{json,md}; ~10 minutes
    python -m scripts.evaluate_context --validation --env SEMREC_CONTEXT_WEIGHT=0.5
        # the same on a validation split carved from P2's training events (how the defaults were chosen);
        # prints only
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from app.evaluation import datasets
from app.evaluation.context_run import run_context
from app.evaluation.planted import BY_DEVICE, BY_PART, planted_shop
from app.evaluation.protocols import Indexed, package_versions
from scripts.lib.protocols import carve
from scripts.lib.service import spawned_service

ROOT = Path(__file__).resolve().parents[1]

PLANTED = "planted-shop"


def table(results: dict) -> str:
    lines = ["| data set | context sent | P2 NDCG@10 without | with | P2 Recall@20 without | with | first test item "
             "recall@10 without | with | top 10 changed | segments | top-category share ÷ overall, min (random) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        w, c, s, f = r["without_context"], r["with_context"], r["segments"], r["first_test_item"]
        lines.append(f"| {name} | {', '.join(r['context_fields'])} | {w['ndcg@10']:.4f} | {c['ndcg@10']:.4f} | "
                     f"{w['recall@20']:.4f} | {c['recall@20']:.4f} | {f['without_context']['recall@10']:.4f} | "
                     f"{f['with_context']['recall@10']:.4f} | {r['lists_changed_top10']:.0%} | "
                     f"{len(s['service'])} | {s.get('min_ratio')} ({s.get('random_min_ratio')}) |")
    return "\n".join(lines)


def carried(lean: dict, planted: dict[str, dict[str, float]]) -> float | None:
    """How much of a planted effect the lists carry: over the categories it favours one way or the other, the
    median of log(served share ratio) / log(planted ratio) between the two contexts (1: the lists lean as
    far as the shoppers were made to; 0: not at all)."""
    first, second = next(iter(lean.values()))
    ratios = []
    for category, shares in lean.items():
        want = planted[second].get(category, 1.0) / planted[first].get(category, 1.0)
        if abs(math.log(want)) > 0.1 and shares[first] > 0 and shares[second] > 0:
            ratios.append(math.log(shares[second] / shares[first]) / math.log(want))
    return round(float(np.median(ratios)), 3) if ratios else None


def planted_effects() -> dict[str, dict[str, dict[str, float]]]:
    """What the planted shop plants, as each context's multiplier per category: the hours the lean asks
    (08:00 morning, 20:00 evening) and the devices."""
    hours = {"08:00": {c: v[1] for c, v in BY_PART.items()}, "20:00": {c: v[3] for c, v in BY_PART.items()}}
    return {"lean_by_hour": hours, "lean_by_device": BY_DEVICE}


def plot(results: dict, path: Path) -> None:
    """P2 NDCG@10 and the first test item's recall@10, without and with context, per data set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (title, get) in zip(axes, (("P2 NDCG@10", lambda r, w: r[w]["ndcg@10"]),
                                       ("first test item recall@10",
                                        lambda r, w: r["first_test_item"][w]["recall@10"])), strict=True):
        for n, which in enumerate(("without_context", "with_context")):
            ax.bar([x + 0.4 * n for x in range(len(names))], [get(results[m], which) for m in names], 0.4,
                   label=which.replace("_", " "))
        ax.set_xticks([x + 0.2 for x in range(len(names))], names, fontsize=8)
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="", help=f"comma-separated; default: every one found and {PLANTED}")
    p.add_argument("--validation", action="store_true", help="P2's training events, split again by the P2 rule")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the service (SEMREC_*)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluation-context")
    args = p.parse_args()
    names = args.datasets.split(",") if args.datasets else [*datasets.available(args.data_root), PLANTED]
    env = dict(e.split("=", 1) for e in args.env)
    results = {}
    for name in names:
        ds = planted_shop() if name == PLANTED else datasets.load(name, args.data_root)
        ds, ix = carve(ds) if args.validation else (ds, Indexed(ds))
        print(f"\n{name}: {len(ds)} events" + (" (validation carve)" if args.validation else ""), flush=True)
        start = time.perf_counter()
        with spawned_service(env=env) as svc:
            results[name] = run_context(svc, ds, ix)
        results[name]["seconds"] = round(time.perf_counter() - start, 1)
    print("\n" + table(results))
    for name, r in results.items():
        for key in ("lean_by_hour", "lean_by_device"):
            if key in r:
                a, b = next(iter(r[key].values()))
                print(f"{name}: share of the top 10, {a} / {b}: "
                      + ", ".join(f"{c} {v[a]:.3f} / {v[b]:.3f}" for c, v in list(r[key].items())[:4]))
        if name == PLANTED:
            r["carried"] = {key: carried(r[key], effect) for key, effect in planted_effects().items() if key in r}
            print(f"{name}: share of the planted effect the lists carry: {r['carried']}")
    if args.validation:
        return
    command = "python -m scripts.evaluate_context" + "".join(f" --env {e}" for e in args.env)
    report = {"command": command, "env": env, "python": platform.python_version(),
              "versions": package_versions(("torch", "transformers", "faiss-cpu", "numpy", "fastapi")),
              "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    plot(results, args.out.with_suffix(".png"))
    segments = ["\n## Which way the time of day and the device move the lists\n\nEach category's share of the test "
                "users' top 10 at 08:00 and at 20:00 UTC (the day of the last training event), and on each device at "
                "14:00 where the data has devices, the four that move most:\n",
                "| data set | context | category | share | share |", "| --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        for key in ("lean_by_hour", "lean_by_device"):
            for c, v in list(r.get(key, {}).items())[:4]:
                (a, x), (b, y) = v.items()
                segments.append(f"| {name} | {a} / {b} | {c} | {x:.3f} | {y:.3f} |")
    for name, r in results.items():
        if r.get("carried"):
            segments.append(f"\nThe share of each planted effect the {name}'s lists carry (median over the "
                            "categories it favours of log(served share ratio) / log(planted ratio); 1: as far as "
                            "the shoppers were made to lean): "
                            + ", ".join(f"{k.removeprefix('lean_by_')} {v}" for k, v in r["carried"].items()) + ".")
    segments.append("\n## Segments")
    for name, r in results.items():
        segments.append(f"\n**{name}**\n\n| segment | users | label | top category (data) | its share | overall |"
                        "\n| --- | --- | --- | --- | --- | --- |")
        labels = {s["segment_id"]: s["label"] for s in r["segments"]["service"]}
        if not r["segments"].get("segments"):  # no categories in the data: the service's own labels
            segments += [f"| {s['segment_id']} | {s['size']} | {s['label']} | | | |" for s in r["segments"]["service"]]
        for s in r["segments"].get("segments", []):
            segments.append(f"| {s['segment_id']} | {s['users']} | {labels.get(s['segment_id'], '')} | "
                            f"{s['top_category']} | {s.get('share', '')} | {s.get('overall_share', '')} |")
    args.out.with_suffix(".md").write_text(
        f"# Context protocol and segments, through the service\n\n`{command}` (default parameters; library "
        f"versions in the .json)\n\nP2 (temporal holdout) ranked by `GET /v1/users/{{id}}/recommendations?k=20`, "
        "without and with the context of each test user's first test event; beside it, recall@10 of that "
        "event's item alone. Segments: the top category's share of a segment's training events divided by "
        "its overall share (ML-100K: genres; Gift Cards has no categories).\n\n"
        f"{table(results)}\n\n![context](evaluation-context.png)\n\n"
        + "\n".join(segments) + "\n")
    print(f"\nwrote {args.out.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
