from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


def bounded_count(rows, limit: int) -> int | None:
    """How many rows match, or None when more than ``limit`` do. Counts at most ``limit + 1`` rows:
    an exact COUNT reads every matching row, which at a million orders costs more than the page."""
    if isinstance(rows, list | tuple):
        n = len(rows)
    else:
        rows = rows.order_by()
        if rows.query.group_by is None and not (rows.query.distinct or rows.query.combinator):
            rows = rows.values("pk")  # the page's annotations are not needed to count it
        n = rows[: limit + 1].count()
    return n if n <= limit else None


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N&page_size=M`` (at most 500); every list endpoint pages.

    ``count`` is exact up to ``API_COUNT_LIMIT`` (10,000) matching rows and null above: what a
    request costs then depends on the page, not on how much data the list holds. ``next`` is known
    without the count (the page is read with one row more), so following it always reaches the end;
    ``?page=last`` works while the count is known."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        self.count = bounded_count(queryset, settings.API_COUNT_LIMIT)
        self.number = self._page_number(request, page_size)
        offset = (self.number - 1) * page_size
        rows = list(queryset[offset : offset + page_size + 1])
        if not rows and self.number > 1:
            raise NotFound(_("Invalid page."))
        self.has_next = len(rows) > page_size
        return rows[:page_size]

    def _page_number(self, request, page_size: int) -> int:
        raw = request.query_params.get(self.page_query_param) or 1
        if raw in self.last_page_strings:
            if self.count is None:
                raise NotFound(_("The last page is not known above the count limit: follow next."))
            return max(1, -(-self.count // page_size))
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise NotFound(_("Invalid page.")) from None
        if number < 1:
            raise NotFound(_("Invalid page."))
        return number

    def get_next_link(self):
        if not self.has_next:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.page_query_param, self.number + 1)

    def get_previous_link(self):
        if self.number <= 1:
            return None
        url = self.request.build_absolute_uri()
        if self.number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"] = {
            "type": "integer",
            "nullable": True,
            "example": 123,
            "description": f"How many match, exact up to {settings.API_COUNT_LIMIT:,}; null above that "
            "(follow `next` to the end)",
        }
        return response
