from rest_framework.throttling import SimpleRateThrottle


class PrincipalRateThrottle(SimpleRateThrottle):
    """A rate per API key (or per session user; per IP address for anonymous callers).

    Rates live in settings (``API_THROTTLE_RATE``, ``API_ANON_THROTTLE_RATE``); an exceeded rate is
    a 429 with ``Retry-After``.
    """

    scope = "principal"

    def allow_request(self, request, view):
        self.scope = "principal" if request.user and request.user.is_authenticated else "anonymous"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        auth = request.auth
        if getattr(auth, "key_hash", None):
            ident = f"key:{auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"
