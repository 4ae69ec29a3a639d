"""The evaluation through the service (shared PROTOCOLS.md, "Through the service"): P2, P3 and P4 on every
data set, each on a fresh store, over HTTP only, as a storefront uses semrec.

For each data set and protocol: start `python -m app` on a fresh store (a SQLite file in a temporary data dir;
with --database-url a new database on that PostgreSQL server, plus `python -m app.worker`), post the catalog,
the users' profile texts and the split's training events (star ratings with their time and review text), run
ONE training job with default parameters (body {}), and right after it reports `succeeded` ask
`GET /v1/users/{id}/recommendations` (P2: k=10 and k=20; P4: k=10) or `POST /v1/users/{id}/rank` over the
cold items (P3). The splits and the metric code are app.evaluation.protocols', so the figures stand next to
scripts/evaluate.py's (read from docs/evaluation.json). Also counted: non-200 answers, answers whose
model_version is not the job's, empty and short lists, seen items returned; wall time per phase.

    python -m scripts.evaluate_service                            # everything -> docs/evaluation-service.*
    python -m scripts.evaluate_service --datasets ml-100k --protocols P2
    python -m scripts.evaluate_service --database-url postgresql://postgres@127.0.0.1:5432/test
    python -m scripts.evaluate_service --seeds 1,2                # and again with {"seed": 1}, {"seed": 2}
    python -m scripts.evaluate_service --smoke --out /tmp/svc     # 100 users a data set, for the test
    python -m scripts.evaluate_service --docs-only                # rewrite the .md and evaluation.md's section

--seeds: the spread over training seeds. The headline is the default job (body {}, seed 0); each further seed
runs the same protocol on another fresh store with the job body {"seed": s}, and a table gives each figure's
mean and standard deviation over all of them (the splits are fixed: PROTOCOLS.md's).

The default --out also rewrites the "Through the service" section of docs/evaluation.md (scripts/evaluate.py
rewrites that file whole: run this one after it, or with --docs-only).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from app.evaluation import datasets
from app.evaluation.protocols import KS, SPLITS, Indexed, package_versions
from app.evaluation.service_run import run_protocol, smoke_slice
from scripts.lib.service import spawned_service

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_OUT = ROOT / "docs" / "evaluation-service"
LIBRARY_METHOD = "semrec: semantic init + text map"  # the library run with the trainer's default parameters
BEGIN, END = "<!-- evaluate_service:begin -->", "<!-- evaluate_service:end -->"


def library_figures(path: Path) -> dict:
    """{data set: {protocol: {"semrec": {...}, "best peer": (name, {...})}}} from scripts/evaluate.py's JSON."""
    if not path.is_file():
        return {}
    report = json.loads(path.read_text())
    out = {}
    for ds_name, protocols in report.get("results", {}).items():
        for protocol, methods in protocols.items():
            if protocol not in SPLITS or "_skipped" in methods:
                continue
            peers = {n: r for n, r in methods.items()
                     if not n.startswith(("_", "semrec")) and "ndcg@10" in r and n != "random"}
            best = max(peers, key=lambda n: peers[n]["ndcg@10"]) if peers else None
            out.setdefault(ds_name, {})[protocol] = {
                "semrec": {k: v for k, v in methods.get(LIBRARY_METHOD, {}).items() if "@" in k},
                "best_peer": [best, {k: v for k, v in peers[best].items() if "@" in k}] if best else None,
                "users": methods.get("_users")}
    return out


def versions() -> dict:
    out = package_versions(("torch", "numpy", "transformers", "faiss-cpu", "fastapi", "sqlalchemy", "httpx"))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "app", "migrations"],
                               cwd=ROOT, capture_output=True, text=True).stdout.split("\n")
        out["semrec"] = commit + (f" + uncommitted changes in {sum(1 for d in dirty if d.strip())} files of app/, "
                                  "migrations/" if any(d.strip() for d in dirty) else "")
    except (OSError, subprocess.CalledProcessError):
        out["semrec"] = "unknown"
    return out


def _metric_names(protocol: str) -> list[str]:
    return [f"{m}@{k}" for k in KS[protocol] for m in ("recall", "ndcg")]


def markdown_tables(report: dict) -> list[str]:
    """The figures table (service next to library) and the defects/timings table."""
    lines = ["| data set | protocol | users | metric | service | library (semrec defaults) | best library peer |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    checks = ["| data set | protocol | requests | non-200 | model_version ≠ job's | empty | short | seen returned "
              "| strategies | ingest s | train s | query s |", "| --- |" * 1 + " --- |" * 11]
    library = report.get("library", {})
    for ds_name, protocols in report["results"].items():
        for protocol, r in protocols.items():
            lib = library.get(ds_name, {}).get(protocol, {})
            if "error" in r and not any("@" in k for k in r):
                lines.append(f"| {ds_name} | {protocol} | {r.get('users', '')} | — | failed: {r['error'][:120]} "
                             "| | |")
            else:
                for m in _metric_names(protocol):
                    peer = lib.get("best_peer")
                    lines.append(f"| {ds_name} | {protocol} | {r.get('users', '')} | {m} | **{r[m]:.4f}** | "
                                 + (f"{lib['semrec'][m]:.4f}" if m in lib.get("semrec", {}) else "—") + " | "
                                 + (f"{peer[1][m]:.4f} ({peer[0]})" if peer and m in peer[1] else "—") + " |")
            a, ph = r.get("answers", {}), r.get("phases", {})
            strategies = ", ".join(f"{k} {v}" for k, v in sorted(a.get("strategies", {}).items()))
            checks.append(f"| {ds_name} | {protocol} | {a.get('requests', 0)} | {a.get('non_200', '—')} | "
                          f"{a.get('model_version_mismatch', '—')} | {a.get('empty_lists', '—')} | "
                          f"{a.get('short_lists', '—')} | {a.get('seen_items_returned', '—')} | {strategies} | "
                          f"{ph.get('ingest_s', 0):.1f} | {ph.get('train_s', 0):.1f} | {ph.get('query_s', 0):.1f} |")
    return lines + [""] + checks + spread_table(report)


def spread_table(report: dict) -> list[str]:
    """Each protocol's figures over the training seeds (the default job's and ``--seeds``'): mean and spread."""
    lines = []
    for ds_name, protocols in report["results"].items():
        for protocol, r in protocols.items():
            runs = {seed: x for seed, x in [("0 (default)", r), *r.get("seeds", {}).items()] if "error" not in x}
            if len(runs) < 2:
                continue
            for m in _metric_names(protocol):
                values = np.array([x[m] for x in runs.values()])
                lines.append(f"| {ds_name} | {protocol} | {m} | {len(runs)} ({', '.join(runs)}) | "
                             f"{values.mean():.4f} | {values.std(ddof=1):.4f} | {values.min():.4f} | "
                             f"{values.max():.4f} |")
    if not lines:
        return []
    return ["", "Over training seeds (the default job and `--seeds`, each on a fresh store; the splits fixed):", "",
            "| data set | protocol | metric | runs (seeds) | mean | std | min | max |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |", *lines]


def write_outputs(out: Path, report: dict, evaluation_md: Path | None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    head = [f"Command: `{report['command']}`  ", f"Run: {report['started_at']}, {report['seconds']:.0f} s, "
            f"store {report['database']}  ",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + "  ",
            f"Library figures: `{report['library_source']}` (method \"{LIBRARY_METHOD}\"; best peer by NDCG@10)",
            ""]
    if report.get("smoke"):
        head += ["**Smoke run** (a slice of users): the library figures are the full data set's, not comparable.", ""]
    body = markdown_tables(report)
    notes = ["", "Service figures: the ids each answer returned, scored by `app.evaluation.protocols.ranking_metrics`"
             " (a short list is not topped up). *model_version ≠ job's*: answers, asked right after the job reported"
             " `succeeded`, made by another state than the job's version (a Consistency defect of the service)."
             " *seen returned*: training items of the user in a P2/P4 list (the service should leave them out).", ""]
    out.with_suffix(".md").write_text("\n".join(["# The evaluation through the service", "", *head, *body, *notes]))
    if evaluation_md is not None and evaluation_md.is_file():
        rel = out.with_suffix(".md").relative_to(evaluation_md.parent) if out.is_relative_to(evaluation_md.parent) \
            else out.with_suffix(".md")
        section = [BEGIN, "", "## Through the service", "",
                   f"The same splits run through the HTTP API on a fresh store, one training job with default "
                   f"parameters, the routes asked right after it succeeded (`{report['command']}`, "
                   f"{report['started_at']}, {report['database']}, semrec {report['versions'].get('semrec')}). "
                   f"Details, defect counts and timings: [{rel}]({rel}). Rerun: "
                   "`.venv/bin/python -m scripts.evaluate_service` (after `scripts/evaluate.py`, which rewrites "
                   "this file).", "", *body, "", END]
        text = evaluation_md.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        text = pattern.sub(lambda _: "\n".join(section), text) if pattern.search(text) else \
            text.rstrip("\n") + "\n\n" + "\n".join(section) + "\n"
        evaluation_md.write_text(text)


def one_run(args, source: Path | None, protocol: str, ds, ix: Indexed, database: str, seed: int | None) -> dict:
    """One protocol on a fresh store: the default job (``seed`` None: body {}) or the job ``{"seed": seed}``;
    a broken run is reported (``error``), and the others still run."""
    print(f"  {protocol} on a fresh {database} store" + ("" if seed is None else f", seed {seed}"), flush=True)
    t0 = time.perf_counter()
    try:
        with spawned_service(args.database_url, source) as svc:
            result = run_protocol(svc, protocol, ds, ix, args.concurrency, log=lambda s: print(s, flush=True),
                                  train_body=None if seed is None else {"seed": seed})
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"      failed: {result['error']}", flush=True)
    result.setdefault("phases", {})["total_s"] = round(time.perf_counter() - t0, 2)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="", help="comma-separated (default: every data set present)")
    p.add_argument("--protocols", default="P2,P3,P4")
    p.add_argument("--database-url", default=None,
                   help="a postgresql:// URL: each run gets a new database on that server (dropped after)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--library", type=Path, default=ROOT / "docs" / "evaluation.json",
                   help="scripts/evaluate.py's JSON, for the library figures")
    p.add_argument("--seeds", default="", help="comma-separated training seeds to run beside the default job")
    p.add_argument("--smoke", action="store_true", help="the first --smoke-users users of each data set")
    p.add_argument("--smoke-users", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight in the query phase")
    p.add_argument("--commit", default=None,
                   help="run the service from this commit (a `git archive` snapshot), not the working tree")
    p.add_argument("--docs-only", action="store_true",
                   help="only rewrite the markdown and evaluation.md's section (the library's figures as they are now)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the spawned service too (its finally runs)
    evaluation_md = ROOT / "docs" / "evaluation.md" if args.out.resolve() == DEFAULT_OUT.resolve() else None
    if args.docs_only:  # the service's figures as they were measured, beside the library's as they are now
        report = json.loads(args.out.with_suffix(".json").read_text())
        report["library"] = library_figures(args.library)
        write_outputs(args.out, report, evaluation_md)
        return

    started, started_at = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    protocols = args.protocols.split(",")
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    unknown = [x for x in protocols if x not in SPLITS]
    if unknown:
        p.error(f"protocols through the service: {', '.join(SPLITS)} (not {', '.join(unknown)})")
    report = {"command": " ".join(["python -m scripts.evaluate_service", *map(shlex.quote, sys.argv[1:])]),
              "started_at": started_at, "versions": versions(),
              "database": "postgresql" if args.database_url else "sqlite", "smoke": args.smoke,
              "library_source": str(args.library.relative_to(ROOT) if args.library.is_relative_to(ROOT)
                                    else args.library),
              "library": library_figures(args.library), "results": {}}
    source = None
    if args.commit:
        source = Path(tempfile.mkdtemp(prefix="semrec-eval-source-"))
        archive = subprocess.run(["git", "archive", args.commit], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        rev = subprocess.run(["git", "rev-parse", "--short", args.commit], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        report["versions"]["semrec"] = f"{rev} (snapshot of --commit {args.commit})"
    failures = 0
    for name in names:
        ds = datasets.load(name, args.data_root)
        if args.smoke:
            ds = smoke_slice(ds, args.smoke_users)
        ix = Indexed(ds)
        print(f"{name}: {len(ds)} events, {len(ix.user_ids)} users, {len(ix.item_ids)} items", flush=True)
        results = report["results"].setdefault(name, {})
        for protocol in protocols:
            results[protocol] = one_run(args, source, protocol, ds, ix, report["database"], None)
            for seed in seeds:
                results[protocol].setdefault("seeds", {})[str(seed)] = one_run(args, source, protocol, ds, ix,
                                                                               report["database"], seed)
            failures += sum("error" in r for r in [results[protocol], *results[protocol].get("seeds", {}).values()])
    if source:
        shutil.rmtree(source, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    write_outputs(args.out, report, evaluation_md)
    print(f"wrote {args.out.with_suffix('.json')} and .md in {report['seconds']:.0f} s"
          + (" (and the section of docs/evaluation.md)" if evaluation_md else ""), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
