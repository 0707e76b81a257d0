"""Following a Sharetribe marketplace: the Integration API client (`api`), the events poller and
its checkpoint (`poller`, `checkpoint`), stamped reads of the marketplace (`snapshot`), the full
re-sync (`resync`) and reconciliation (`reconcile`). Everything here reaches the index only
through the indexer's intake and rebuild machinery."""
