"""Load from wrk (the distribution's package: apt-get install wrk), in a process of its own: a Lua script per
route kind, its summary (requests/s, p50 and p99 in ms, errors) as one JSON line read back."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap

import numpy as np

from scripts.lib.service import READ_KEY

LUA = textwrap.dedent("""
    math.randomseed(os.time())
    local users, items = {n_users}, {n_items}
    local up, ip, base = "{user_prefix}", "{item_prefix}", {base}
    local kind = "{kind}"
    wrk.headers["X-API-Key"] = "{key}"
    wrk.headers["Content-Type"] = "application/json"
    request = function()
      if kind == "healthz" then return wrk.format("GET", "/healthz") end
      if kind == "recommend" then
        return wrk.format("GET", "/v1/users/" .. up .. math.random(base, base + users - 1) .. "/recommendations?k=10")
      end
      if kind == "similar" then
        return wrk.format("GET", "/v1/items/" .. ip .. math.random(base, base + items - 1) .. "/similar?k=10")
      end
      if kind == "bought_together" then
        return wrk.format("GET", "/v1/items/" .. ip .. math.random(base, base + items - 1) .. "/bought-together?k=10")
      end
      if kind == "trending" then return wrk.format("GET", "/v1/trending?k=10") end
      if kind == "steered" then  -- two filters (and whatever rules the server holds)
        return wrk.format("GET", "/v1/users/" .. up .. math.random(base, base + users - 1) ..
                          "/recommendations?k=10&category=c" .. math.random(0, 9) .. "&max_price=400")
      end
      if kind == "session" then  -- a visitor known only by three items of this visit
        local viewed = {{}}
        for n = 1, 3 do viewed[n] = '"' .. ip .. math.random(base, base + items - 1) .. '"' end
        return wrk.format("POST", "/v1/recommendations", nil,
                          '{{"k": 10, "items": [' .. table.concat(viewed, ",") .. ']}}')
      end
      local ids = {{}}
      for n = 1, 100 do ids[n] = '"' .. ip .. math.random(base, base + items - 1) .. '"' end
      return wrk.format("POST", "/v1/users/" .. up .. math.random(base, base + users - 1) .. "/rank", nil,
                        '{{"item_ids": [' .. table.concat(ids, ",") .. ']}}')
    end
""") + "{done}"

# wrk's summary as one JSON line (also for scripts/bench_conversation.py's scripts); braces doubled for format().
WRK_DONE = textwrap.dedent("""
    done = function(summary, latency, requests)
      local fmt = "JSON {{\\"rps\\": %f, \\"p50_ms\\": %f, \\"p99_ms\\": %f, \\"errors\\": %d, \\"non2xx\\": %d}}\\n"
      io.write(string.format(fmt,
        summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        summary.errors.status))
      local rows = {{}}  -- the latency histogram (microseconds, count), to pool runs (pooled_percentile)
      for i = 1, #latency do
        local value, count = latency(i)
        if count > 0 then rows[#rows + 1] = string.format("[%d,%d]", value, count) end
      end
      io.write("HIST [" .. table.concat(rows, ",") .. "]\\n")
    end
""")


def wrk(url: str, kind: str, ids: dict, connections: int, seconds: int) -> dict:
    return run_wrk(url, LUA.format(kind=kind, key=READ_KEY, done=WRK_DONE.format(), **ids), connections, seconds)


def run_wrk(url: str, script: str, connections: int, seconds: int) -> dict:
    """wrk with a Lua ``script`` ending in ``WRK_DONE`` (formatted): its JSON summary as a dict."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        threads = str(min(2, connections))  # wrk wants a connection per thread at least
        out = subprocess.run(["wrk", "-t", threads, "-c", str(connections), "-d", f"{seconds}s", "-s", f.name, url],
                             capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(f.name)
    summary = json.loads(out.split("JSON ", 1)[1].splitlines()[0])
    if "HIST [" in out:
        summary["histogram"] = json.loads(out.split("HIST ", 1)[1].splitlines()[0])
    return summary


def pooled_percentile(histograms: list[list[list[int]]], q: float) -> float:
    """The ``q``-th percentile (ms) of the latencies of several runs taken together (their wrk histograms of
    [microseconds, count]): one figure from every request of every run, not a median of per-run tails."""
    merged: dict[int, int] = {}
    for histogram in histograms:
        for value, count in histogram:
            merged[value] = merged.get(value, 0) + count
    values = sorted(merged)
    counts = np.cumsum([merged[v] for v in values])
    return values[int(np.searchsorted(counts, q / 100 * counts[-1]))] / 1000
