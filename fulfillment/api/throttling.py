import uuid

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError
from rest_framework.throttling import SimpleRateThrottle

from fulfillment.cache import remember_read

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

    A view with a ``cache_read_ahead(request)`` method names the cache entries the request will
    read (an order intake: its client's nodes and webhook flag): the same round trip fetches them,
    and ``fulfillment.cache.get`` serves them for the rest of the request.
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
        keys = [cache.make_and_validate_key(self.key)]
        args = [repr(now), self.duration, self.num_requests, f"{now!r}:{uuid.uuid4().hex[:12]}"]
        ahead = getattr(view, "cache_read_ahead", None)
        names = list(ahead(request)) if ahead is not None else []
        if names:
            allowed, count, oldest = _run_reading_ahead(script, keys, args, names)
        else:
            allowed, count, oldest = script(keys=keys, args=args)
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


def _run_reading_ahead(script, keys: list, args: list, names: list[str]) -> list:
    """The window's script and a read of the cache entries ``names``, in one pipeline (one round
    trip; not a transaction); the entries are kept for the request (``remember_read``)."""
    backend = caches["default"]
    made = [backend.make_and_validate_key(name) for name in names]
    client = script.registered_client
    pipe = client.pipeline(transaction=False)
    # EVALSHA itself: a pipeline given the script object would check that it is loaded first (a
    # round trip more, every time). Not loaded (a Redis restarted): run it alone, which loads it.
    pipe.evalsha(script.sha, len(keys), *keys, *args)
    pipe.mget(made)
    try:
        result, raw = pipe.execute()
    except NoScriptError:
        result, raw = script(keys=keys, args=args), client.mget(made)
    loads = backend._cache._serializer.loads
    remember_read(
        {name: None if value is None else loads(value) for name, value in zip(names, raw, strict=True)}
    )
    return result


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
