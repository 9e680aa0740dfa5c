"""What every figure of the benchmark shares: the registry, the run's context, the measurement and
the timing helpers. A figure is a function registered with ``@figure``; ``bench.run`` imports the
figure modules in the order they should run (reads before the writes that would change what they
read) and calls each one with the ``Context``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Measurement:
    """One figure's result: ``ours`` and ``baseline`` in ``unit``, plus details.

    ``higher_is_better`` marks throughputs (orders/s); the ratio is always "how many times the
    baseline's cost ours is": ours/baseline for latencies, baseline/ours for throughputs, so a
    ratio above 1 always means we are slower than the bare machine."""

    ours: float
    baseline: float
    unit: str = "ms"
    detail: dict = field(default_factory=dict)
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if not self.ours or not self.baseline:
            return None
        value = self.baseline / self.ours if self.higher_is_better else self.ours / self.baseline
        return round(value, 2)


@dataclass
class Context:
    """What a figure may use: the data set's summary, the clock the data set was built against,
    the database URL (for subprocesses: gunicorn, workers, baselines over psycopg)."""

    scale: str
    big_client_id: int
    now: datetime
    requests: int
    database_url: str
    summary: dict = field(default_factory=dict)


@dataclass
class Figure:
    key: str
    title: str
    baseline: str
    measure: Callable[[Context], Measurement]
    target: str = ""
    check: Callable[[Measurement], bool] | None = None


FIGURES: list[Figure] = []


def figure(
    key: str,
    title: str,
    baseline: str,
    *,
    target: str = "",
    check: Callable[[Measurement], bool] | None = None,
):
    """Register a figure. ``target`` is the issue's target in words and ``check`` tells whether a
    measurement meets it (shown as "met" / "MISSED"; never used to change what is measured)."""

    def register(fn: Callable[[Context], Measurement]) -> Callable[[Context], Measurement]:
        FIGURES.append(Figure(key, title, baseline, fn, target, check))
        return fn

    return register


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds of samples in seconds."""
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": ms(cuts[49]), "p95": ms(cuts[94]), "p99": ms(cuts[98])}


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_ms(fn: Callable[[], object], runs: int) -> float:
    return ms(statistics.median(timed(fn) for _ in range(runs)))
