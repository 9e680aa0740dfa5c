from __future__ import annotations

import hmac
import threading
from datetime import datetime

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import api_key_cache
from .models import APIKey
from .selectors import api_key_authenticate
from .services import LAST_USED_RESOLUTION, api_key_hash, api_key_mark_used, split_key


class ClientKeyPrincipal:
    """``request.user`` for a client's key: authenticated, but not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, api_key: APIKey):
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"


class APIKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer fk_<prefix>_<secret>``."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; use 'Bearer <key>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc
        key = authenticate_key(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        _mark_used(key)
        return (key.staff_user if key.staff_user_id else ClientKeyPrincipal(key), key)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


def authenticate_key(raw_key: str) -> APIKey | None:
    """``api_key_authenticate``, from the cache while the key is unchanged (``api_key_cache``);
    the secret is checked against the key's hash either way."""
    prefix = split_key(raw_key)
    if prefix is None:
        return None
    key = api_key_cache.cached(prefix)
    if key is not None and hmac.compare_digest(key.key_hash, api_key_hash(raw_key)):
        return key
    key = api_key_authenticate(raw_key)
    if key is not None:
        api_key_cache.remember(key)
    return key


# When this process last noted each key's use: a cached key's ``last_used_at`` is as old as the
# entry, and the write is meant to happen once a minute, not on every request.
_noted: dict[int, datetime] = {}
_noted_lock = threading.Lock()


def _mark_used(key: APIKey) -> None:
    noted = _noted.get(key.pk)
    if noted is not None and (key.last_used_at is None or noted > key.last_used_at):
        key.last_used_at = noted
    if key.last_used_at is not None and key.last_used_at >= timezone.now() - LAST_USED_RESOLUTION:
        return
    api_key_mark_used(api_key=key)
    with _noted_lock:
        if len(_noted) > 10_000:
            _noted.clear()
        _noted[key.pk] = key.last_used_at


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = APIKeyAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "fk_<prefix>_<secret>",
            "description": "An API key from the portal or `manage.py create_api_key`.",
        }
