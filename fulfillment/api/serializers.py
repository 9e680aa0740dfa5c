"""Serializer pieces every app's API shares."""

from __future__ import annotations


class UpdateRulesMixin:
    """Fields an object keeps for life (``fixed_on_update``: read-only once it exists) and fields a
    PATCH may leave out (``optional_on_update``)."""

    fixed_on_update: tuple[str, ...] = ()
    optional_on_update: tuple[str, ...] = ()

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            for name in self.fixed_on_update:
                fields[name].read_only = True
            for name in self.optional_on_update:
                fields[name].required = False
        return fields
