"""Two servers side by side, loaded in turn in short slices: what keeping impressions costs the plain list
(``scripts.bench_serving``'s last block), with intervals and an A/A check of the protocol itself."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from scripts.lib.load import pooled_percentile, wrk
from scripts.lib.service import start_server


def impressions_cost(env: dict, ids: dict, rounds: int, seconds: int, workers: int, same: bool = False) -> dict:
    """What keeping impressions costs the plain list: a server that keeps them (the default) and one that keeps
    none (SEMREC_IMPRESSIONS=false), side by side, each on its own copy of the store where it is SQLite.
    Each round loads one then the other for ``seconds`` at 32 connections, then one then the other for
    ``seconds`` at 4, the first server alternating by round: this host's speed drifts by more than the effect
    over minutes, and slices seconds apart see the same host. Half the rounds run with the servers started in
    one order, half after a restart in the other: two identical servers measured this way came out 1.29x apart
    in their p99 when always started in the same order (docs/online.md, "Fifth round"). ``same``: both servers
    keep none (an A/A run: how far apart this protocol puts two identical servers).

    Reported: the ratio of the servers' median req/s over the slices, the ratio of their p99 at 4 connections
    with every request of a server's slices pooled (wrk's histograms), the median over the rounds of the two
    slices' p99 ratio (paired: a round's slices are seconds apart, so it leans less on one slow slice than the
    pooled figure does), and for each a 95% interval from 2,000 bootstrap resamples of the rounds (a round's
    slices stay together)."""
    extras = {"kept": {} if not same else {"SEMREC_IMPRESSIONS": "false"}, "none": {"SEMREC_IMPRESSIONS": "false"}}
    runs: dict[str, list[dict]] = {"kept": [], "none": []}
    for half, starting in enumerate((("kept", "none"), ("none", "kept"))):
        servers, copies = {}, []
        try:
            for label in starting:
                own = dict(env)
                if not env.get("SEMREC_DATABASE_URL", "").startswith("postgresql"):
                    copy = Path(tempfile.mkdtemp(prefix=f"semrec-bench-{label}-"))
                    shutil.copytree(env["SEMREC_DATA_DIR"], copy, dirs_exist_ok=True)
                    copies.append(copy)
                    own |= {"SEMREC_DATA_DIR": str(copy), "SEMREC_DATABASE_URL": ""}  # the copy's own SQLite file
                servers[label] = start_server({**own, **extras[label]}, workers)
            for _, url in servers.values():
                wrk(url, "recommend", ids, 8, 3)
            for r in range(half * (rounds // 2), rounds if half else rounds // 2):
                order = ("kept", "none") if r % 2 == 0 else ("none", "kept")
                thr = {label: wrk(servers[label][1], "recommend", ids, 32, seconds) for label in order}
                lat = {label: wrk(servers[label][1], "recommend", ids, 4, seconds) for label in order}
                for label in order:
                    runs[label].append({"rps@32": thr[label]["rps"], "p99_ms@4": lat[label]["p99_ms"],
                                        "histogram": lat[label]["histogram"]})
                print(f"  round {r + 1}: " + ", ".join(f"{label} {thr[label]['rps']:.0f} req/s @32, p99 "
                                                     f"{lat[label]['p99_ms']:.1f} ms @4" for label in order),
                      flush=True)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=300)
            for copy in copies:
                shutil.rmtree(copy, ignore_errors=True)
    out = {"rounds": rounds, "slice_seconds": seconds, "same": same, **cost_ratios(runs)}
    for row in runs.values():
        for r in row:
            r.pop("histogram")
    out["runs"] = runs
    print(f"  impressions {'none (A/A)' if same else 'kept'} / none, {rounds} rounds: req/s {out['rps_ratio']}x "
          f"[{out['rps_interval'][0]}, {out['rps_interval'][1]}] (medians); p99 @4 pooled "
          f"{out['pooled_p99_ms@4']['kept']:.1f} against {out['pooled_p99_ms@4']['none']:.1f} ms, "
          f"{out['pooled_p99_ratio']}x [{out['p99_interval'][0]}, {out['p99_interval'][1]}]; paired "
          f"{out['paired_p99_ratio']}x [{out['paired_interval'][0]}, {out['paired_interval'][1]}] (median of the "
          f"rounds)", flush=True)
    return out


def cost_ratios(runs: dict[str, list[dict]], resamples: int = 2000) -> dict:
    """kept / none: the median req/s ratio, the pooled p99 ratio and the median of the rounds' p99 ratios, each
    with a 95% bootstrap interval over the rounds (``impressions_cost``)."""
    paired = np.array([kept["p99_ms@4"] / none["p99_ms@4"]
                       for kept, none in zip(runs["kept"], runs["none"], strict=True)])

    def ratios(picked: np.ndarray) -> tuple[float, float, float]:
        rps = [float(np.median([runs[label][i]["rps@32"] for i in picked])) for label in ("kept", "none")]
        p99 = [pooled_percentile([runs[label][i]["histogram"] for i in picked], 99) for label in ("kept", "none")]
        return rps[0] / rps[1], p99[0] / p99[1], float(np.median(paired[picked]))

    n = len(runs["kept"])
    rps_ratio, p99_ratio, paired_ratio = ratios(np.arange(n))
    rng = np.random.default_rng(0)
    drawn = np.array([ratios(rng.integers(0, n, n)) for _ in range(resamples)])
    low, high = np.percentile(drawn, [2.5, 97.5], axis=0)
    pooled = {label: pooled_percentile([r["histogram"] for r in rows], 99) for label, rows in runs.items()}
    return {"rps_ratio": round(rps_ratio, 3), "rps_interval": [round(low[0], 3), round(high[0], 3)],
            "pooled_p99_ms@4": pooled, "pooled_p99_ratio": round(p99_ratio, 3),
            "p99_interval": [round(low[1], 3), round(high[1], 3)], "paired_p99_ratio": round(paired_ratio, 3),
            "paired_interval": [round(low[2], 3), round(high[2], 3)]}
