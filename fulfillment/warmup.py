"""What a started process loads once, before its first request or task rather than during it.

The first order a web worker takes would otherwise pay for the US ZIP data set (about 0.25 s)
and the holiday calendar's import (about 0.1 s), and the first request of any kind for the
URLconf and every view behind it: after a deploy or a restart, each worker's first requests were
several times slower than the rest. ``fulfillment/wsgi.py`` and each Celery pool process call
``warm`` and then settle the collector (``fulfillment.heap``) over what it loaded."""

from __future__ import annotations

from django.utils import timezone


def warm(*, urls: bool = True) -> None:
    from fulfillment.calendar import _federal_holidays
    from fulfillment.geo import zip_point

    year = timezone.now().year
    for y in (year, year + 1):  # a deadline late in December falls in the next year
        _federal_holidays(y)
    zip_point("10001")  # loads the packaged ZIP data set
    if urls:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 (imports the URLconf and its views)
