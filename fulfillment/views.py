"""Error pages: JSON in the API's error shape under /api/, HTML elsewhere."""

from django.views import defaults

from fulfillment.api.errors import json_error


def page_not_found(request, exception):
    if request.path.startswith("/api/"):
        return json_error("not_found", "Not found.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error("server_error", "Something went wrong on our side; it has been logged.", 500)
    return defaults.server_error(request)
