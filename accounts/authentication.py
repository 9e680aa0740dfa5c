from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import APIKey
from .selectors import api_key_authenticate
from .services import api_key_mark_used


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
        key = api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_mark_used(api_key=key)
        return (key.staff_user if key.staff_user_id else ClientKeyPrincipal(key), key)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


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
