"""The HTTP surface: the FastAPI app (`app`), its routes, public search, pages, and the edge.

Its own modules: `app` (the factory), `services` (the app's clients as a dependency), `errors`
(the contract's error shape), `openapi_doc`, `redis_keys` (the API's own Redis keys). Calls the
indexer's capabilities from its routes; the indexer never imports this package."""
