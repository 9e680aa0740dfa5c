"""Demo data of the KPI area: the rollup over the demo clients' history, so the dashboards and the
QBR read rolled-up days the way production does at night."""

from __future__ import annotations

from .rollup import rollup


def seed_kpi_history(*, days_back: int = 120) -> int:
    """Roll up the trailing ``days_back`` days of every active client; returns the rows written.
    Idempotent (run it again after more demo data and it overwrites)."""
    return rollup(days_back=days_back)
