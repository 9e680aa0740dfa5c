import uuid

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

# DRF's sliding window (the timestamps of the window's requests; a request is allowed while fewer
# than the rate's number are in it, and only an allowed one is recorded), kept in a sorted set and
# checked and recorded in one atomic round trip. DRF's own keeps the whole list in one cache entry
# that every request reads, unpickles and writes back: at a rate of 1000/s that is a list of up to
# a thousand floats per request, and two requests at once can each overwrite the other's record.
_SLIDING_WINDOW = """
local key, now, duration, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, count, oldest[2] or ARGV[1]}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, math.ceil(duration * 1000))
return {1, count + 1, ARGV[1]}
"""


class PrincipalRateThrottle(SimpleRateThrottle):
    """A rate per API key (or per session user; per IP address for anonymous callers).

    Rates live in settings (``API_THROTTLE_RATE``, ``API_ANON_THROTTLE_RATE``); an exceeded rate is
    a 429 with ``Retry-After``. With the Redis cache the window is a sorted set (one round trip);
    with another cache (the embedded default), DRF's own list.
    """

    scope = "principal"
    _wait: float | None = None

    def allow_request(self, request, view):
        self.scope = "principal" if request.user and request.user.is_authenticated else "anonymous"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        script = _script()
        if script is None or self.rate is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        allowed, count, oldest = script(
            keys=[cache.make_and_validate_key(self.key)],
            args=[repr(now), self.duration, self.num_requests, f"{now!r}:{uuid.uuid4().hex[:12]}"],
        )
        if allowed:
            return True
        # DRF's ``wait``: until the oldest request leaves the window, spread over what is left.
        # (Clamped: a request of another process may carry a time a hair later than ours.)
        remaining = min(self.duration, max(0.0, self.duration - (now - float(oldest))))
        available = self.num_requests - int(count) + 1
        self._wait = remaining / float(available) if available > 0 else None
        return False

    def wait(self):
        if _script() is None:
            return super().wait()
        return self._wait

    def get_cache_key(self, request, view):
        auth = request.auth
        if getattr(auth, "key_hash", None):
            ident = f"key:{auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"


def _script():
    """The registered script on this thread's Redis cache client, or None for another cache."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    script = backend.__dict__.get("_sliding_window")
    if script is None:
        client = backend._cache.get_client(write=True)
        script = backend._sliding_window = client.register_script(_SLIDING_WINDOW)
    return script
