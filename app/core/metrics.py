"""Prometheus metrics: requests by route template (counted by the request middleware), and jobs, the served
model and encoder throughput, read at scrape time."""

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric, SummaryMetricFamily

log = logging.getLogger("semrec.metrics")


class Metrics:
    def __init__(self, state, job_figures: Callable) -> None:
        """``state`` is the app's state: the store and the recommender are read from it at scrape time;
        ``job_figures(session, dialect)``: the jobs' counts, durations and latest results
        (``app.store.queue.figures``)."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "semrec_http_requests", "HTTP requests by route and status", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "semrec_http_request_duration_seconds", "HTTP request latency by route", ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.attributions = Counter(
            "semrec_attributed_events", "Stored events by how they were credited to an answer: recommendation_id, "
            "last_shown, unknown_id (a named answer that was unknown, expired or did not show the item), none",
            ["by"], registry=self.registry,
        )
        self.registry.register(StateCollector(state, job_figures))

    def count_attributions(self, counts: dict[str, int]) -> None:
        for by, n in counts.items():
            if n:
                self.attributions.labels(by).inc(n)


class StateCollector:
    """Figures computed when scraped: the worker may be another process, so jobs are read from the store
    (never counted here), and the served model from this process's recommender. A store that cannot be read
    leaves the job figures out; the scrape itself never fails."""

    def __init__(self, state, job_figures: Callable) -> None:
        self.state = state
        self.job_figures = job_figures

    def collect(self) -> Iterator[Metric]:
        yield from self._serving()
        yield from self._impressions()
        try:
            families = self._jobs()
        except Exception as exc:
            log.warning("metrics: store not readable, job figures left out (%s)", type(exc).__name__)
            return
        yield from families

    def _impressions(self) -> list[Metric]:
        log = getattr(self.state, "impressions", None)
        if log is None:
            return []
        return [
            CounterMetricFamily("semrec_impressions_written", "Impression rows (items shown) stored",
                                value=log.written),
            CounterMetricFamily("semrec_impressions_dropped", "Answers whose impressions were dropped unwritten "
                                "because the buffer (SEMREC_IMPRESSIONS_BUFFER) was full", value=log.dropped),
            CounterMetricFamily("semrec_impressions_flush_failures", "Impression writes the store refused (the rows "
                                "are kept and written with the next)", value=log.failures),
            GaugeMetricFamily("semrec_impressions_pending", "Answers waiting in memory to be written",
                              value=log.pending),
        ]

    def _serving(self) -> list[Metric]:
        recommender = getattr(self.state, "recommender", None)
        serving = recommender.state if recommender is not None else None
        model = serving.model if serving is not None else None
        index = GaugeMetricFamily("semrec_index_items", "Items in the served model's FAISS index",
                                  value=len(model.index) if model is not None else 0)
        if model is None:
            return [index]
        return [index, InfoMetricFamily("semrec_active_model", "The model version this process serves",
                                        value={"version": model.version})]

    def _jobs(self) -> list[Metric]:
        with self.state.sessions() as session:
            counts, durations, results = self.job_figures(session, self.state.engine.dialect.name)
        jobs = GaugeMetricFamily("semrec_jobs", "Jobs by kind and status (outcomes: succeeded, failed)",
                                 labels=["kind", "status"])
        for kind, status, n in counts:
            jobs.add_metric([kind, status], n)
        duration = SummaryMetricFamily("semrec_job_duration_seconds", "Run time of finished jobs, start to end",
                                       labels=["kind", "status"])
        for kind, status, n, total in durations:
            duration.add_metric([kind, status], count_value=n, sum_value=float(total or 0))
        families = [jobs, duration]
        rate = _latest_texts_per_second(results)
        if rate is not None:
            families.append(GaugeMetricFamily(
                "semrec_encoder_texts_per_second", "Encoder throughput of the latest job that embedded texts",
                value=rate))
        return families


def _latest_texts_per_second(results: list[dict | None]) -> float | None:
    """From an embedding job's result, or the embedding step a training job runs first; a job that found
    nothing stale encoded nothing and has no rate."""
    for result in results:
        for part in (result or {}, (result or {}).get("embedding") or {}):
            if part.get("texts_per_second"):
                return float(part["texts_per_second"])
    return None
