"""The base every API view builds on: tenant scope, actor, idempotency, error shape."""

from __future__ import annotations

from contextlib import ExitStack

from django.db import transaction
from rest_framework import mixins, viewsets
from rest_framework.views import APIView

from fulfillment import cache
from fulfillment.tenancy import actor_scope, request_actor

from . import idempotency


class PlatformAPIMixin:
    """Opens the actor's tenant scope right after authentication, and wraps an idempotent POST.

    With an ``Idempotency-Key`` the handler and the stored response share one transaction
    (``idempotency.begin`` has already committed the in-flight claim outside it).
    """

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as stack, cache.read_ahead():
            self._stack = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        request.actor = request_actor(request)
        if request.actor is not None:
            self._stack.enter_context(actor_scope(request.actor))
        super().initial(request, *args, **kwargs)
        self._idempotency = None
        if request.actor is not None:
            record = idempotency.begin(request)
            if record is not None:
                self._idempotency = record
                self._stack.callback(self._release_unless_completed)
                self._stack.enter_context(transaction.atomic())

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.IdempotentReplay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency", None)
        if record is not None and response.status_code < 500:
            idempotency.complete(record, response)
            self._idempotency_completed = True
        return response

    def _release_unless_completed(self) -> None:
        if not getattr(self, "_idempotency_completed", False):
            idempotency.release(self._idempotency)

    @property
    def actor(self):
        return self.request.actor

    def client_for(self, data: dict):
        """The client a write is for: a client's own, or the one staff named (serializers narrow
        ``client`` to the clients the actor sees)."""
        from django.core.exceptions import ValidationError

        from accounts.models import Client

        if self.actor.is_client:
            return Client.objects.get(pk=self.actor.client_id)
        if data.get("client") is None:
            raise ValidationError({"client": ["Name the client this is for."]})
        return data["client"]

    def client_and_fields(self, data: dict) -> tuple:
        """``client_for(data)``, and the rest of ``data`` (a copy without ``client``) for the service."""
        fields = dict(data)
        client = self.client_for(fields)
        fields.pop("client", None)
        return client, fields


class PlatformAPIView(PlatformAPIMixin, APIView):
    pass


class PlatformViewSet(PlatformAPIMixin, viewsets.GenericViewSet):
    """Base viewset: subclasses set ``perms`` (action -> Perm), ``queryset = Model.objects.none()``
    (for the schema) and ``select()``, which returns the actor's rows from a selector."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return self.select()

    def select(self):
        raise NotImplementedError


class ReadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    pass
