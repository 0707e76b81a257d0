"""`listing-search`: dev, api, worker and import-airbnb sub-commands."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from infra.settings import Settings

log = logging.getLogger("listing_search")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _engine_url(settings: Settings) -> tuple[str, object | None]:
    if settings.opensearch_url:
        return settings.opensearch_url, None
    from infra.embedded_engine import start_embedded_engine

    engine = start_embedded_engine()
    return engine.url, engine


def cmd_dev(args: argparse.Namespace) -> int:
    """Everything in one process on embedded defaults, with the Albany demo data."""
    import uvicorn

    from indexer.airbnb_import import DEMO_DATA_DIR
    from indexer.intake import accept
    from infra.local_redis import RedisUnavailable, ensure_redis
    from listing_search.demo_import import feed
    from listing_search.runner import build_services, start_worker
    from search_api.app import create_app

    overrides: dict[str, object] = {}
    if not os.environ.get("LISTING_SEARCH_OPERATOR_TOKEN"):
        overrides["operator_token"] = secrets.token_urlsafe(24)
    embedded = not os.environ.get("OPENSEARCH_URL")
    if embedded and not os.environ.get("LISTING_SEARCH_REDIS_PREFIX"):
        overrides["redis_prefix"] = "ls-dev:"
    if embedded and not os.environ.get("LISTING_SEARCH_REPLICAS"):
        overrides["replicas"] = 0
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        local_redis = ensure_redis(settings.redis_url)
    except RedisUnavailable as exc:
        log.error("%s", exc)
        return 2
    settings = settings.model_copy(update={"redis_url": local_redis.url})
    engine_url, engine = _engine_url(settings)
    services = build_services(settings, engine_url=engine_url)
    if engine is not None:
        # The embedded engine starts empty, so any queue state left under this prefix is stale.
        stale = list(services.redis.scan_iter(match=f"{settings.redis_prefix}*", count=1000))
        if stale:
            services.redis.delete(*stale)
    worker = start_worker(services)

    def load_demo() -> None:
        data_dir = Path(args.demo_data) if args.demo_data else DEMO_DATA_DIR
        first = int(services.redis.hget(services.keys.stats, "accepted_seq") or 0) + 1

        def sink(page: list[dict[str, object]]) -> None:
            accept(services.redis, services.keys, page, max_pending=settings.max_pending_events)

        sent, last = feed(data_dir, sink, first_seq=first, progress=False)
        log.info("demo data: %d events from %s queued (sequenceIds %d..%d)", sent, data_dir, first, last)

    if not args.no_demo:
        threading.Thread(target=load_demo, name="demo-import", daemon=True).start()

    token = settings.operator_secret()
    base = f"http://{args.host}:{args.port}"
    print(
        f"\n  listing-search dev on {base}\n"
        f"  engine: {'embedded osmem-server (in memory)' if engine else engine_url}   redis: {settings.redis_url}\n"
        f"  try:    curl '{base}/v1/api/listings/query?keywords=cozy&perPage=3'\n"
        f"  docs:   {base}/docs\n"
        f"  operator token: {token}\n",
        flush=True,
    )
    try:
        uvicorn.run(create_app(services), host=args.host, port=args.port, log_level="warning")
    finally:
        worker.stop()
        if engine is not None:
            engine.close()  # type: ignore[attr-defined]
        local_redis.close()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from search_api.app import create_app
    from search_api.services import Services

    settings = Settings()
    if not settings.operator_secret():
        log.warning("LISTING_SEARCH_OPERATOR_TOKEN is unset: operator endpoints refuse every request")
    engine_url, engine = _engine_url(settings)
    if engine is not None:
        log.warning("OPENSEARCH_URL is unset: serving from an empty embedded engine (for trying things only)")
    uvicorn.run(
        create_app(Services.from_settings(settings, engine_url=engine_url)),
        host=args.host,
        port=args.port,
        log_level="info",
        workers=1,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from indexer.worker import Worker
    from listing_search.runner import build_services

    settings = Settings()
    if not settings.opensearch_url:
        log.error("the worker needs OPENSEARCH_URL (the embedded engine lives inside `listing-search dev`)")
        return 2
    services = build_services(settings, engine_url=settings.opensearch_url)
    worker = Worker(
        settings=settings,
        engine=services.engine,
        redis_client=services.redis,
        names=services.names,
        keys=services.keys,
        consumer=args.name,
    )
    stop = threading.Event()

    def _stop(signum: int, _: FrameType | None) -> None:
        log.info("signal %d: finishing the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run(stop)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from indexer.airbnb_import import DEMO_DATA_DIR
    from listing_search.demo_import import HttpSink, feed

    token = args.token or os.environ.get("LISTING_SEARCH_OPERATOR_TOKEN")
    if not token:
        log.error("give the operator token with --token or LISTING_SEARCH_OPERATOR_TOKEN")
        return 2
    data_dir = Path(args.path) if args.path else DEMO_DATA_DIR
    if not (data_dir / "listings_search.csv.gz").exists():
        log.error("%s has no listings_search.csv.gz (an Inside Airbnb city folder is expected)", data_dir)
        return 2
    sink = HttpSink(args.url, token)
    first = (sink.status().get("acceptedSequenceId") or 0) + 1
    sent, last = feed(data_dir, sink, first_seq=first, progress=sys.stderr.isatty() or args.progress)
    print(f"sent {sent} events (sequenceIds {first}..{last})", flush=True)
    if args.wait:
        status = sink.wait_searchable(last, progress=sys.stderr.isatty() or args.progress)
        print(f"searchable: {status['publishedDocuments']} published of {status['documents']} documents")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="listing-search", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="API + worker in one process, embedded engine, demo data")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--no-demo", action="store_true", help="start with an empty index")
    dev.add_argument("--demo-data", help="an Inside Airbnb city folder instead of the shipped Albany set")
    dev.set_defaults(func=cmd_dev)

    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="consume the event stream into the index")
    worker.add_argument("--name", help="consumer name; keep it stable across restarts (default host-pid)")
    worker.set_defaults(func=cmd_worker)

    imp = sub.add_parser("import-airbnb", help="send an Inside Airbnb city folder to a running service")
    imp.add_argument("path", nargs="?", help="folder with listings_search.csv.gz (default: shipped Albany)")
    imp.add_argument("--url", default="http://127.0.0.1:8000")
    imp.add_argument("--token", help="operator token (default: env LISTING_SEARCH_OPERATOR_TOKEN)")
    imp.add_argument("--wait", action="store_true", help="wait until everything sent is searchable")
    imp.add_argument("--progress", action="store_true", help="progress bars even when not on a terminal")
    imp.set_defaults(func=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    result: int = args.func(args)
    return result
