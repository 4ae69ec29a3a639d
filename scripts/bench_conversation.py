"""Conversation messages over HTTP: throughput at 32 connections, latency (p50, p99) at 4, on ML-100K.

A fresh service (`python -m app`, SQLite) trained with defaults on ML-100K's P2 training events, as the P5
evaluation trains it; then 400 conversations of known users are opened with a P5 shopper's first words, and
wrk (apt-get install wrk) sends messages to random ones from a separate process:

- ``feedback``: a like or a dislike of a random movie, no words (the topic's words are encoded already);
- ``words``: a refinement in words, encoded on the request path ("from the 1980s", "no horror", ...).

The replies are the service's own sentences (no language model writes them).

    python -m scripts.bench_conversation                 # about 3 minutes
    python -m scripts.bench_conversation --seconds 20 --workers 2
    python -m scripts.bench_conversation --workers 2 --database-url postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np

from app.evaluation import datasets, service_run, shoppers
from app.evaluation.protocols import Indexed, p2_temporal
from scripts.lib.load import WRK_DONE, run_wrk
from scripts.lib.service import spawned_service

ROOT = Path(__file__).resolve().parents[1]

REFINEMENTS = ["from the 1980s", "no horror", "something funnier", "not too violent", "with a love story",
               "actually a thriller", "older ones", "no documentaries", "for the whole family", "more action"]

# Each wrk thread takes its own half of the conversations, in turn: two messages of one conversation are never in
# flight at once (the second would get 409, as a shopper clicking twice would), as long as a conversation comes
# round again only after its last message was answered (400 conversations, at most 32 in flight).
LUA = textwrap.dedent("""
    local cids = {{{cids}}}
    local items = {{{items}}}
    local words = {{{words}}}
    local kind = "{kind}"
    local threads = 0
    setup = function(thread)
      thread:set("part", threads)
      threads = threads + 1
    end
    local n = 0
    init = function(args)
      math.randomseed(os.time() + part)
    end
    wrk.headers["X-API-Key"] = "{key}"
    wrk.headers["Content-Type"] = "application/json"
    request = function()
      local half = math.floor(#cids / 2)
      n = n % half + 1
      local path = "/v1/conversations/" .. cids[part * half + n] .. "/messages"
      local body
      if kind == "feedback" then
        local signal = (math.random(2) == 1) and "like" or "dislike"
        local item = items[math.random(#items)]
        body = '{{"k": 10, "feedback": [{{"item_id": "' .. item .. '", "signal": "' .. signal .. '"}}]}}'
      else
        body = '{{"k": 10, "text": "' .. words[math.random(#words)] .. '"}}'
      end
      return wrk.format("POST", path, nil, body)
    end
""")


def _lua_list(values: list[str]) -> str:
    return ", ".join(json.dumps(v) for v in values)


def wrk(url: str, key: str, kind: str, cids: list[str], items: list[str], connections: int, seconds: int) -> dict:
    script = LUA.format(kind=kind, key=key, cids=_lua_list(cids), items=_lua_list(items),
                        words=_lua_list(REFINEMENTS)) + WRK_DONE.format()
    return run_wrk(url, script, connections, seconds)


def message_statuses(log: Path) -> dict[int, int]:
    """How the service answered the messages route, counted from its JSON access log lines."""
    counts: Counter[int] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if '"route": "/v1/conversations/{conversation_id}/messages"' in line:
            with contextlib.suppress(ValueError, KeyError):
                counts[json.loads(line)["status"]] += 1
    return dict(sorted(counts.items()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--conversations", type=int, default=400)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--database-url", default=None,
                   help="a PostgreSQL server to run on (a new database there; default: a fresh SQLite file)")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    ds = datasets.load("ml-100k", args.data_root)
    ix = Indexed(ds)
    split = p2_temporal(ix)
    rng = np.random.default_rng(0)
    with spawned_service(args.database_url, workers=args.workers) as svc:
        result, _, _ = service_run.prepare(svc, split, ds, ix, log=lambda *_: None)
        print(f"trained {result.get('model_version')} on {result['train_events']} events", flush=True)
        users = rng.choice(split.eval_users, size=args.conversations, replace=True)
        targets = [ix.item_ids[int(i)] for i in rng.choice(len(ix.item_ids), size=args.conversations)]
        words = shoppers.openings(ds, sorted(set(targets)))
        cids = []
        for user, target in zip(users.tolist(), targets, strict=True):
            cid = svc.call("POST", "/v1/conversations", json={"user_id": ix.user_ids[user]}).json()["conversation_id"]
            assert svc.call("POST", f"/v1/conversations/{cid}/messages",
                            json={"text": words[target], "k": 10}).status_code == 200
            cids.append(cid)
        items = list(ix.item_ids)
        rows = []
        for kind in ("feedback", "words"):
            wrk(svc.url, svc.key, kind, cids, items, 8, 3)  # warm up
            thr = wrk(svc.url, svc.key, kind, cids, items, 32, args.seconds)
            lat = wrk(svc.url, svc.key, kind, cids, items, 4, args.seconds)
            row = {"message": kind, "rps@32": round(thr["rps"]), "p99_ms@32": round(thr["p99_ms"], 1),
                   "rps@4": round(lat["rps"]), "p50_ms@4": round(lat["p50_ms"], 1),
                   "p99_ms@4": round(lat["p99_ms"], 1),
                   "socket errors": thr["errors"] + lat["errors"], "non-2xx": thr["non2xx"] + lat["non2xx"]}
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            rows.append(row)
        turns = svc.call("GET", f"/v1/conversations/{cids[0]}").json()["turns"]
        print(f"  (conversation {cids[0][:8]} ended with {len(turns)} turns)")
        print(f"  message answers by status, from the service's access log: {message_statuses(svc.log)}")
    print(f"\n{args.workers} worker(s), {svc.database}\n\n"
          "| message | rps @32 | p99 ms @32 | rps @4 | p50 ms @4 | p99 ms @4 | socket errors | non-2xx |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['message']} | {r['rps@32']} | {r['p99_ms@32']} | {r['rps@4']} | {r['p50_ms@4']} | "
              f"{r['p99_ms@4']} | {r['socket errors']} | {r['non-2xx']} |")


if __name__ == "__main__":
    main()
