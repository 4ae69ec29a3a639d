"""The bench's side-by-side figures (``scripts.lib.side_by_side.cost_ratios``): the pooled p99 follows a single
slow slice, the paired median does not."""

import numpy as np

from scripts.lib.side_by_side import cost_ratios


def slice_(p99_ms: float, rps: float, requests: int = 1000) -> dict:
    """One slice as ``impressions_cost`` keeps it: a wrk histogram ([µs, count]) whose 99th percentile is
    ``p99_ms``: 2% of the requests at it, the rest at a fifth of it."""
    slow = requests // 50
    histogram = [[int(p99_ms * 200), requests - slow], [int(p99_ms * 1000), slow]]
    return {"rps@32": rps, "p99_ms@4": p99_ms, "histogram": histogram}


def test_the_paired_median_follows_the_rounds_and_the_pooled_figure_the_slowest_slice():
    rng = np.random.default_rng(1)
    none = [slice_(p, 1000.0) for p in rng.uniform(5, 7, 20)]
    kept = [slice_(n["p99_ms@4"] * 1.05, 960.0) for n in none]
    kept[3] = slice_(40.0, 960.0)  # one slow slice, as a pause of the host gives

    out = cost_ratios({"kept": kept, "none": none}, resamples=200)

    assert out["paired_p99_ratio"] == 1.05
    assert out["paired_interval"][0] <= 1.05 <= out["paired_interval"][1]
    assert out["pooled_p99_ratio"] > 1.3  # that slice is 5% of all requests, every one slower than 7.4 ms
    assert out["rps_ratio"] == 0.96
