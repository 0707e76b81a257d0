"""`listing-search`: run the service (dev, api, worker, jobs) and operate it (schema, reindex, resync,
reconcile, dead-letters, import-airbnb)."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from infra.settings import Settings
from schemas.search_schema import SCHEMA_TYPES, SCOPES

if TYPE_CHECKING:
    from listing_search.operator_client import OperatorClient

log = logging.getLogger("listing_search")

ENGINE_SETTINGS = """\
the engine connection (environment; used by every process and every client):
  OPENSEARCH_URL            http(s)://[user:password@]host:port[/prefix]; unset: an embedded engine (dev)
  OPENSEARCH_USERNAME       basic auth user, when the URL carries no credentials
  OPENSEARCH_PASSWORD       its password (or OPENSEARCH_PASSWORD_FILE: a file holding it)
  OPENSEARCH_CA_CERTS       PEM bundle the engine's certificate must verify against (default: the system's)
  OPENSEARCH_CLIENT_CERT    client certificate for mutual TLS, with OPENSEARCH_CLIENT_KEY
  OPENSEARCH_VERIFY_CERTS   true (default); false only for trying things, warned at start
  OPENSEARCH_AUTH           sigv4: AWS Signature Version 4 on every request (Amazon OpenSearch Service);
                            credentials from the standard AWS chain, region from AWS_REGION
  OPENSEARCH_SIGV4_SERVICE  es (default) or aoss (OpenSearch Serverless)
A wrong setting is said at start, one line per attempt, naming the setting; /readyz says it too.
Secrets never appear in logs, errors, /v1/status or /metrics (a URL's password shows as ***).
Everything else: README.md and docs/ (settings table: docs/operators.md).
"""


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


def _engine_banner(settings: Settings, engine_url: str) -> None:
    """Where the engine is and how this process reaches it (never a secret), and the one warning an
    unverified TLS connection deserves."""
    from infra.engine_connection import EngineConnection

    connection = EngineConnection.from_settings(settings, engine_url)
    log.info("engine: %s", connection.describe())
    connection.warn_if_unverified()


def cmd_dev(args: argparse.Namespace) -> int:
    """Everything in one process on embedded defaults, with the Albany demo data."""
    import uvicorn

    from indexer.pipeline.intake import accept
    from indexer.redis_keys import drop_prefixed
    from indexer.tasks.celery_app import JobQueue
    from indexer.tasks.dev_loops import start_loops
    from indexer.tasks.work import TaskWork, services_for
    from infra.local_redis import RedisUnavailable, ensure_redis
    from listing_search.demo.airbnb_import import DEMO_DATA_DIR
    from listing_search.demo.feed import feed
    from listing_search.runner import build_services, job_worker_in_thread, start_worker
    from search_api.app import create_app

    overrides: dict[str, object] = {}
    if not os.environ.get("LISTING_SEARCH_OPERATOR_TOKEN"):
        overrides["operator_token"] = secrets.token_urlsafe(24)
    embedded = not os.environ.get("OPENSEARCH_URL")
    if embedded and not os.environ.get("LISTING_SEARCH_REDIS_PREFIX"):
        overrides["redis_prefix"] = "ls-dev:"
    if embedded and not os.environ.get("LISTING_SEARCH_REPLICAS"):
        overrides["replicas"] = 0
    if not os.environ.get("LISTING_SEARCH_STOREFRONT"):
        overrides["storefront"] = True  # what a newcomer opens first; `api` leaves it off
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        local_redis = ensure_redis(settings.redis_url)
    except RedisUnavailable as exc:
        log.error("%s", exc)
        return 2
    settings = settings.model_copy(update={"redis_url": local_redis.url})
    engine_url, engine = _engine_url(settings)
    _engine_banner(settings, engine_url)
    services = build_services(settings, engine_url=engine_url)
    if engine is not None:
        # The embedded engine starts empty, so any queue state left under this prefix is stale.
        drop_prefixed(services.redis, settings.redis_prefix)
    worker = start_worker(services)

    def load_demo() -> None:
        data_dir = Path(args.demo_data) if args.demo_data else DEMO_DATA_DIR
        first = int(services.redis.hget(services.keys.stats, "accepted_seq") or 0) + 1

        def sink(page: list[dict[str, object]]) -> None:
            accept(services.redis, services.keys, page, max_pending=settings.max_pending_events)

        sent, last = feed(data_dir, sink, first_seq=first, progress=False)
        log.info("demo data: %d events from %s queued (sequenceIds %d..%d)", sent, data_dir, first, last)

    if settings.sync_configured() and not args.no_demo:
        log.info("Sharetribe sync configured: the marketplace is the data, the Albany demo is not loaded")
    elif not args.no_demo:
        threading.Thread(target=load_demo, name="demo-import", daemon=True).start()

    token = settings.operator_secret()
    base = f"http://{args.host}:{args.port}"
    page = f"  open:   {base}/   (the storefront search page)\n" if settings.storefront else ""
    print(
        f"\n  listing-search dev on {base}\n"
        f"  engine: {'embedded osmem-server (in memory)' if engine else engine_url}   redis: {settings.redis_url}\n"
        f"{page}"
        f"  try:    curl '{base}/v1/api/listings/query?keywords=cozy&perPage=3'\n"
        f"  docs:   {base}/docs\n"
        f"  operator token: {token}\n",
        flush=True,
    )
    periodic_stop = threading.Event()
    try:
        with job_worker_in_thread(settings, engine_url) as celery_app:
            queue = JobQueue(celery_app, settings)
            # dev has no Celery beat: the same schedule runs on threads (the sync, the horizon roll, ...).
            work = TaskWork(services_for(settings, engine_url), lambda _: queue.enqueue_rebuild)
            start_loops(settings, work, periodic_stop)
            app = create_app(services, job_queue=queue)
            uvicorn.run(
                app,
                host=args.host,
                port=args.port,
                log_level="warning",
                timeout_keep_alive=settings.keep_alive_seconds,
            )
    finally:
        periodic_stop.set()
        worker.stop()
        if engine is not None:
            engine.close()  # type: ignore[attr-defined]
        local_redis.close()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from indexer.services import Services
    from search_api.app import create_app

    settings = Settings()
    if not settings.operator_secret():
        log.warning("LISTING_SEARCH_OPERATOR_TOKEN is unset: operator endpoints refuse every request")
    engine_url, engine = _engine_url(settings)
    if engine is not None:
        log.warning("OPENSEARCH_URL is unset: serving from an empty embedded engine (for trying things only)")
    _engine_banner(settings, engine_url)
    if args.workers is not None and args.workers < 1:
        print("--workers: at least 1", file=sys.stderr)
        return 2
    workers = args.workers or usable_cores()
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        "proxy_headers": False,  # X-Forwarded-For is judged by the app (LISTING_SEARCH_TRUSTED_PROXIES)
        # A line per request costs about a tenth of a millisecond; the proxy in front logs anyway.
        "access_log": args.access_log,
        "timeout_keep_alive": settings.keep_alive_seconds,
    }
    # All worker processes of this instance add to one query-latency histogram (see metrics.py).
    instance = settings.instance_id or f"{socket.gethostname()}:{args.port}"
    if workers == 1:
        scoped = settings.model_copy(update={"instance_id": instance})
        uvicorn.run(create_app(Services.from_settings(scoped, engine_url=engine_url)), workers=1, **common)
        return 0
    # N processes behind one port (uvicorn's supervisor): one GIL each. They read their settings
    # from the environment, so what this process resolved is passed on that way.
    os.environ["OPENSEARCH_URL"] = engine_url
    os.environ["LISTING_SEARCH_INSTANCE_ID"] = instance
    log.info("serving with %d worker processes", workers)
    uvicorn.run("search_api.app:app_from_env", factory=True, workers=workers, **common)
    return 0


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cmd_worker(args: argparse.Namespace) -> int:
    from indexer.pipeline.worker import Worker
    from listing_search.runner import build_services

    settings = Settings()
    if not settings.opensearch_url:
        log.error("the worker needs OPENSEARCH_URL (the embedded engine lives inside `listing-search dev`)")
        return 2
    _engine_banner(settings, settings.opensearch_url)
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


def _operator_client(args: argparse.Namespace) -> OperatorClient | None:
    from listing_search.operator_client import OperatorClient

    token = args.token or os.environ.get("LISTING_SEARCH_OPERATOR_TOKEN")
    if not token:
        log.error("give the operator token with --token or LISTING_SEARCH_OPERATOR_TOKEN")
        return None
    return OperatorClient(args.url, token)


def _operator_command(
    command: Callable[[argparse.Namespace, OperatorClient], int],
) -> Callable[[argparse.Namespace], int]:
    """A command that talks to a running service: a client from --url/--token, errors as exit 1."""

    def run(args: argparse.Namespace) -> int:
        from listing_search.operator_client import OperatorError

        client = _operator_client(args)
        if client is None:
            return 2
        try:
            return command(args, client)
        except (OperatorError, ValueError) as exc:
            log.error("%s", exc)
            return 1

    return run


def _progress(args: argparse.Namespace) -> bool:
    return bool(sys.stderr.isatty() or args.progress)


@_operator_command
def cmd_import(args: argparse.Namespace, client: OperatorClient) -> int:
    from listing_search.demo.airbnb_import import DEMO_DATA_DIR
    from listing_search.demo.feed import HttpSink, feed

    data_dir = Path(args.path) if args.path else DEMO_DATA_DIR
    if not (data_dir / "listings_search.csv.gz").exists():
        log.error("%s has no listings_search.csv.gz (an Inside Airbnb city folder is expected)", data_dir)
        return 2
    first = (client.status().get("acceptedSequenceId") or 0) + 1
    sent, last = feed(data_dir, HttpSink(client), first_seq=first, progress=_progress(args))
    print(f"sent {sent} events (sequenceIds {first}..{last})", flush=True)
    if args.wait:
        status = client.wait_searchable(last, progress=_progress(args))
        print(f"searchable: {status['publishedDocuments']} published of {status['documents']} documents")
    return 0


def _finish_job(client: OperatorClient, job: dict[str, Any] | None, args: argparse.Namespace) -> int:
    if job is None:
        print("no rebuild needed (only doc or default changed); in effect now")
        return 0
    if args.no_wait:
        print(f"rebuild job {job['id']} started; follow it with GET /v1/jobs/{job['id']}")
        return 0
    done = client.wait_job(job["id"], progress=_progress(args))
    if done["state"] != "succeeded":
        log.error("rebuild job %s %s: %s", done["id"], done["state"], done.get("error"))
        return 1
    print(f"rebuild job {done['id']} done: {done['progress']['done']} documents, live index {done.get('index')}")
    return 0


@_operator_command
def cmd_schema(args: argparse.Namespace, client: OperatorClient) -> int:
    from schemas.search_schema import parse_default

    if args.action == "list":
        listed = client.schemas()
        rows = [(s["scope"], s["key"], s["type"], _show(s.get("default")), s.get("doc") or "") for s in listed["data"]]
        _print_table(("scope", "key", "type", "default", "doc"), rows)
        if not listed["meta"]["inSync"]:
            print("(a rebuild is bringing the live index up to these schemas)")
        return 0
    if args.action == "set":
        body: dict[str, Any] = {"type": args.type}
        if args.default is not None:
            body["default"] = parse_default(args.type, args.default)
        if args.doc is not None:
            body["doc"] = args.doc
        result = client.set_schema(args.scope, args.key, body)
    else:
        result = client.unset_schema(args.scope, args.key)
    return _finish_job(client, result["meta"]["job"], args)


@_operator_command
def cmd_dead_letters(args: argparse.Namespace, client: OperatorClient) -> int:
    import json

    if args.action == "list":
        listed = client.dead_letters(args.limit)
        rows = [(d["id"], d["stage"], d["reason"][:100]) for d in listed["data"]]
        _print_table(("id", "stage", "reason"), rows)
        print(f"({listed['meta']['total']} in all)")
    elif args.action == "show":
        print(json.dumps(client.dead_letter(args.id), indent=2))
    elif args.all:
        result = client.replay(None)
        print(f"replayed {result['replayed']}; still failing {len(result['stillFailing'])}")
        for failing in result["stillFailing"]:
            print(f"  {failing['id']}: {failing['reason'][:200]}")
    else:
        client.replay(args.id)
        print(f"replayed {args.id}")
    return 0


@_operator_command
def cmd_reindex(args: argparse.Namespace, client: OperatorClient) -> int:
    return _finish_job(client, {"id": client.reindex()}, args)


@_operator_command
def cmd_resync(args: argparse.Namespace, client: OperatorClient) -> int:
    return _finish_job(client, {"id": client.resync()}, args)


@_operator_command
def cmd_reconcile(args: argparse.Namespace, client: OperatorClient) -> int:
    job_id = client.reconcile(repair=not args.report_only)
    if args.no_wait:
        print(f"reconciliation job {job_id} started; follow it with GET /v1/jobs/{job_id}")
        return 0
    done = client.wait_job(job_id, progress=_progress(args))
    if done["state"] != "succeeded":
        log.error("reconciliation %s %s: %s", job_id, done["state"], done.get("error"))
        return 1
    counts = ", ".join(f"{name} {done.get(name, 0)}" for name in ("checked", "inSync", "drifted", "missing", "gone"))
    print(f"reconciliation {job_id}: {counts}; {done.get('repairsQueued', 0)} repairs queued")
    for example in done.get("examples") or []:
        print(f"  {example['kind']:8} {example['id']}  {', '.join(example['fields'])}")
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    """The Celery worker that runs background jobs (rebuilds)."""
    from indexer.index.lifecycle import wait_for_engine
    from indexer.tasks.celery_app import job_worker_argv, make_celery, register_tasks
    from indexer.tasks.work import services_for
    from infra.clients import opensearch_client
    from schemas.index_layout import IndexNames

    settings = Settings()
    if not settings.opensearch_url:
        log.error("the job worker needs OPENSEARCH_URL (the embedded engine lives inside `listing-search dev`)")
        return 2
    _engine_banner(settings, settings.opensearch_url)
    # Nothing runs until the engine answers: each failed attempt says why, once.
    engine = opensearch_client(settings.opensearch_url, settings=settings)
    wait_for_engine(engine, IndexNames(settings.index_prefix), threading.Event())
    engine.close()
    app = make_celery(settings)
    register_tasks(app, services_for(settings, settings.opensearch_url))
    if args.beat and settings.sync_configured():
        log.info(
            "Sharetribe sync: polling %s every %.1fs", settings.sharetribe_base_url, settings.sync_interval_seconds
        )
    app.worker_main(job_worker_argv(args.concurrency, beat=args.beat, redis_prefix=settings.redis_prefix))
    return 0


def _show(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        default=os.environ.get("LISTING_SEARCH_URL", "http://127.0.0.1:8000"),
        help="the service (default: env LISTING_SEARCH_URL or http://127.0.0.1:8000)",
    )
    p.add_argument("--token", help="operator token (default: env LISTING_SEARCH_OPERATOR_TOKEN)")
    p.add_argument("--progress", action="store_true", help="progress bars even when not on a terminal")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="listing-search",
        description=__doc__,
        epilog=ENGINE_SETTINGS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    api.add_argument("--access-log", action="store_true", help="log every request (off: the proxy logs them)")
    api.add_argument(
        "--workers",
        type=int,
        default=None,
        help="API processes behind the port (default: the usable cores; each has its own GIL and clients)",
    )
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="consume the event stream into the index")
    worker.add_argument("--name", help="consumer name; keep it stable across restarts (default host-pid)")
    worker.set_defaults(func=cmd_worker)

    jobs = sub.add_parser("jobs", help="run the background job worker (Celery: rebuilds)")
    jobs.add_argument("--concurrency", type=int, default=1)
    jobs.add_argument("--beat", action="store_true", help="also schedule the daily horizon roll (one per deployment)")
    jobs.set_defaults(func=cmd_jobs)

    imp = sub.add_parser("import-airbnb", help="send an Inside Airbnb city folder to a running service")
    imp.add_argument("path", nargs="?", help="folder with listings_search.csv.gz (default: shipped Albany)")
    imp.add_argument("--wait", action="store_true", help="wait until everything sent is searchable")
    _client_args(imp)
    imp.set_defaults(func=cmd_import)

    schema = sub.add_parser("schema", help="search schemas of the running service")
    schema_sub = schema.add_subparsers(dest="action", required=True)
    s_set = schema_sub.add_parser("set", help="set (or replace) a search schema; waits for the rebuild")
    s_unset = schema_sub.add_parser("unset", help="remove a search schema; waits for the rebuild")
    s_list = schema_sub.add_parser("list", help="list search schemas")
    for p in (s_set, s_unset):
        p.add_argument("--key", required=True, help="top-level key of publicData / metadata")
        p.add_argument("--scope", choices=SCOPES, default="public")
        p.add_argument("--no-wait", action="store_true", help="return once the rebuild has started")
    s_set.add_argument("--type", required=True, choices=SCHEMA_TYPES)
    s_set.add_argument("--default", help="for listings lacking the key: true/false, an integer, a value, or a,b")
    s_set.add_argument("--doc", help="a description")
    for p in (s_set, s_unset, s_list):
        _client_args(p)
        p.set_defaults(func=cmd_schema)

    letters = sub.add_parser("dead-letters", help="events that could not be applied: list, show, replay")
    letters_sub = letters.add_subparsers(dest="action", required=True)
    l_list = letters_sub.add_parser("list", help="newest first")
    l_list.add_argument("--limit", type=int, default=50)
    l_show = letters_sub.add_parser("show", help="the reason and the original event")
    l_show.add_argument("id")
    l_replay = letters_sub.add_parser("replay", help="send an event through again (or --all)")
    target = l_replay.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?")
    target.add_argument("--all", action="store_true")
    for p in (l_list, l_show, l_replay):
        _client_args(p)
        p.set_defaults(func=cmd_dead_letters)

    reindex = sub.add_parser("reindex", help="rebuild the index now; waits with a progress bar")
    reindex.add_argument("--no-wait", action="store_true")
    _client_args(reindex)
    reindex.set_defaults(func=cmd_reindex)

    resync = sub.add_parser(
        "resync", help="rebuild the index from the Sharetribe Integration API; waits with a progress bar"
    )
    resync.add_argument("--no-wait", action="store_true")
    _client_args(resync)
    resync.set_defaults(func=cmd_resync)

    reconcile = sub.add_parser(
        "reconcile", help="compare the index with the Integration API, repair drift and report it"
    )
    reconcile.add_argument("--report-only", action="store_true", help="report drift, repair nothing")
    reconcile.add_argument("--no-wait", action="store_true")
    _client_args(reconcile)
    reconcile.set_defaults(func=cmd_reconcile)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    from infra.engine_connection import EngineSettingError

    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        result: int = args.func(args)
    except EngineSettingError as exc:
        log.error("%s", exc)
        return 2
    except ValidationError as exc:
        log.error("%s", _settings_problem(exc))
        return 2
    return result


def _settings_problem(exc: Any) -> str:
    """A settings error in the names an operator sets (the environment's), never with a secret's value."""
    lines = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "settings"
        env = name.upper()
        if not env.startswith(("OPENSEARCH_", "REDIS_", "AWS_", "LISTING_SEARCH_")):
            env = f"LISTING_SEARCH_{env}"
        secret = any(word in name.lower() for word in ("password", "secret", "token"))
        got = "" if secret else f" (got {error.get('input')!r})"
        lines.append(f"setting {env}: {error['msg']}{got}")
    return "; ".join(lines)
