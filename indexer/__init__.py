"""Everything that writes the index and keeps it right: the event pipeline, the index itself,
rebuilds, jobs, the Sharetribe sync and what operators see of them. Never imports search_api.

Its own modules: `redis_keys` (the Redis key names of the indexing side) and `services` (the
long-lived clients every entry point builds once)."""
