"""Tenancy, enforced in one place.

Client-owned models use django-scopes' ``ScopedManager(client="client")``: a query made with no
scope open raises ``ScopeError`` (fails closed). The scope is opened here, from the actor:
- pages: ``TenantScopeMiddleware`` for the session user;
- the API: ``fulfillment.api.views.ScopedAPIMixin`` after authentication (API keys);
- tasks and commands: ``actor_scope(actor)`` or ``scope(client=client_id)`` themselves.
Opting out with ``scopes_disabled()`` is kept to the list in the README (migrations, admin,
authentication, operator-wide reporting).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django_scopes import scope

if TYPE_CHECKING:
    from accounts.actors import Actor


@contextmanager
def actor_scope(actor: Actor) -> Iterator[None]:
    with scope(client=actor.client_scope):
        yield


def request_actor(request) -> Actor | None:
    """The actor of a request: its API key's (DRF requests), else its session user's, else None."""
    from accounts.actors import Actor
    from accounts.models import APIKey

    auth = getattr(request, "auth", None)
    if isinstance(auth, APIKey):
        return Actor.for_api_key(auth)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active:
        return Actor.for_user(user)
    return None


class TenantScopeMiddleware:
    """Open the session user's scope around the whole request (pages render lazily inside it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        actor = request.actor = request_actor(request)
        if actor is None:
            return self.get_response(request)
        with actor_scope(actor):
            return self.get_response(request)
