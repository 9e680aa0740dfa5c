from rest_framework.filters import OrderingFilter


class StableOrderingFilter(OrderingFilter):
    """``?ordering=field,-other``; the primary key always breaks ties, so pages never overlap."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or queryset.model._meta.ordering or [])
        if not any(f.lstrip("-") in ("pk", "id") for f in ordering):
            last_desc = bool(ordering) and ordering[-1].startswith("-")
            ordering.append("-pk" if last_desc else "pk")
        return ordering

    def filter_queryset(self, request, queryset, view):
        return queryset.order_by(*self.get_ordering(request, queryset, view))
