"""One request limiter per KIS app key, shared by every client of that key on a loop."""

from __future__ import annotations

import asyncio
import hashlib
import weakref

from jango.brokers.ratelimit import RateLimiter

# Per event loop, because the limiter's asyncio.Lock belongs to the loop that first used it.
_shared: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, int, float], RateLimiter]
] = weakref.WeakKeyDictionary()


def limiter_for(app_key: str, limit: int, window: float = 1.0) -> RateLimiter:
    """The limiter of ``app_key`` (KIS counts requests per app key, not per client or account).

    Call it from a coroutine. Keyed by a digest so the key itself is not kept in another place.
    """
    digest = hashlib.sha256(app_key.encode("utf-8")).hexdigest()
    per_loop = _shared.setdefault(asyncio.get_running_loop(), {})
    key = (digest, limit, window)
    if key not in per_loop:
        per_loop[key] = RateLimiter(limit, window)
    return per_loop[key]
