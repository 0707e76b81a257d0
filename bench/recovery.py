"""Crash recovery: the Boston ingest with its worker SIGKILLed mid-way, against the same ingest
with no fault, all measured in one invocation (issue 12).

Three scenarios, each on a fresh deployment with every Boston event queued (through intake, as
`POST /v1/events` would) before any worker runs, and the engine idle before the clock starts:

- no fault: one worker process from start to caught-up;
- same name: worker "w1" is frozen (SIGSTOP) once about half the events are applied and it
  holds more than a read's worth of delivered, unacknowledged entries, then SIGKILLed; a new
  "w1" starts at once and must settle its predecessor's history itself;
- sibling: the same kill, but the successor is "w2", which can only claim the dead worker's
  entries once they have been idle `--claim-idle-ms`.

Caught-up is the watermark in Redis: nothing left in the stream and lastSequenceId equal to the
highest accepted sequenceId. Times run from the first worker start, so the restart's own
process start-up is part of the cost, as it would be in production.

    python -m bench.recovery [--rounds N] [--claim-idle-ms 10000] [--batch-size 1000] [--kill-at 0.5]

Goals: same name ≤ 1.2 x no fault + 5 s; sibling ≤ the same + claim_idle_ms. With several
rounds every figure is the median over rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import (
    BOSTON,
    Engine,
    cli_process,
    cpu_seconds,
    engine,
    print_table,
    redis_url,
    services,
    wait_idle,
    write_results,
)
from bench.scale import boston, events
from indexer.ops.status import index_status, pipeline_status
from indexer.pipeline import stats
from indexer.pipeline.intake import accept, event_limits
from indexer.services import Services
from infra import histogram
from schemas.availability import utc_today

PAGE = 1000
POLL_SECONDS = 0.01
KILL_AT_FRACTION = 0.5
GOAL_FACTOR = 1.2
GOAL_SLACK_SECONDS = 5.0


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    first: str | None  # the worker that is killed; None: no fault
    successor: str


SCENARIOS = (
    Scenario("noFault", "no fault", None, "w1"),
    Scenario("sameName", "same name (w1 → w1)", "w1", "w1"),
    Scenario("sibling", "sibling (w1 → w2)", "w1", "w2"),
)


class BenchError(RuntimeError):
    """The scenario could not be run as specified (a worker died, a wait ran out)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="all three scenarios this many times; median")
    parser.add_argument(
        "--claim-idle-ms",
        type=int,
        default=10_000,
        help="LISTING_SEARCH_CLAIM_IDLE_MS and LISTING_SEARCH_LOCK_TTL_MS of the worker processes",
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="LISTING_SEARCH_BATCH_SIZE")
    parser.add_argument(
        "--kill-at", type=float, default=KILL_AT_FRACTION, help="kill once this fraction of the events is applied"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="longest wait for any one phase, seconds")
    args = parser.parse_args()
    raw = list(events(boston(BOSTON), None, today=utc_today()))
    # Lock TTL equal to claim idle: a dead worker's locks expire about when its entries become
    # claimable, so the sibling case measures claim_idle_ms and not the 60 s production default.
    env = {
        "LISTING_SEARCH_BATCH_SIZE": str(args.batch_size),
        "LISTING_SEARCH_CLAIM_IDLE_MS": str(args.claim_idle_ms),
        "LISTING_SEARCH_LOCK_TTL_MS": str(args.claim_idle_ms),
    }
    rounds: list[dict[str, Any]] = []
    with engine() as eng, redis_url() as redis:
        for n in range(args.rounds):
            result = {
                s.key: run_scenario(eng, redis, raw, s, args.batch_size, env, args.kill_at, args.timeout)
                for s in SCENARIOS
            }
            check_same_documents(result)
            result["goals"] = goals(result, args.claim_idle_ms)
            rounds.append(result)
            print(
                f"round {n + 1}: " + ", ".join(f"{s.key} {result[s.key]['seconds']} s" for s in SCENARIOS), flush=True
            )
    median = {s.key: median_figures([r[s.key] for r in rounds]) for s in SCENARIOS}
    goal = goals(median, args.claim_idle_ms)
    figures: dict[str, Any] = {
        "events": len(raw),
        "documents": median["noFault"]["documents"],
        "batchSize": args.batch_size,
        "claimIdleMs": args.claim_idle_ms,
        "killAtFractionApplied": args.kill_at,
        "lockTtlMs": args.claim_idle_ms,
        "rounds": args.rounds,
        "goals": goal,
        "median": median,
        "perRound": rounds,
        "beforeTheFix": {
            "source": "issue 12",
            "withKillAndRestartSeconds": 191,
            "noFaultSeconds": "37-43",
        },
    }
    print_table(
        f"Crash recovery, Boston {len(raw)} events → {figures['documents']} documents, claim idle / lock TTL "
        f"{args.claim_idle_ms} ms, {args.rounds} round(s){', medians' if args.rounds > 1 else ''} "
        f"({eng.description})",
        [
            "scenario",
            "total s",
            "after restart s",
            "pending at kill",
            "goal s",
            "met?",
            "applied / unread at kill",
            "oldest idle at kill s",
            "dead run's entries settled s",
            "re-queued",
            "docs written after kill",
            "engine CPU s",
        ],
        [
            [
                s.label,
                median[s.key]["seconds"],
                _or_dash(median[s.key]["afterRestartSeconds"]),
                _or_dash(median[s.key]["pendingAtKill"]),
                _or_dash(goal.get(s.key, {}).get("seconds")),
                _or_dash({True: "yes", False: "NO"}.get(goal.get(s.key, {}).get("met"))),
                _or_dash(
                    None
                    if median[s.key]["appliedAtKill"] is None
                    else f"{median[s.key]['appliedAtKill']} / {median[s.key]['unreadAtKill']}"
                ),
                _or_dash(median[s.key]["oldestIdleAtKillSeconds"]),
                _or_dash(median[s.key]["deadRunSettledSeconds"]),
                median[s.key]["requeued"],
                _or_dash(median[s.key]["documentsWrittenAfterKill"]),
                median[s.key]["engineCpuSeconds"],
            ]
            for s in SCENARIOS
        ],
    )
    print(
        "\n'after restart' and 'settled' run from the successor's start; 're-queued': entries handed back to "
        "the stream's tail because another run's lock held their listing (each time counts)."
    )
    write_results("recovery", eng.description, figures)


def _or_dash(value: object) -> object:
    return "-" if value is None else value


def run_scenario(
    eng: Engine,
    redis: str,
    raw: list[dict[str, Any]],
    scenario: Scenario,
    batch_size: int,
    env: dict[str, str],
    kill_at: float,
    timeout: float,
) -> dict[str, Any]:
    with services(eng.url, redis, batch_size=batch_size) as built:
        top = queue(built, raw)
        # The previous scenario's deployment was just dropped; the engine may still be busy.
        wait_idle(eng.pid)
        engine_cpu = cpu_seconds(eng.pid)
        kill: dict[str, Any] = {}
        restarted: float | None = None
        with contextlib.ExitStack() as stack:
            began = time.perf_counter()
            if scenario.first is not None:
                doomed = stack.enter_context(cli_process(built, eng.url, "worker", "--name", scenario.first, **env))
                kill = kill_mid_way(built, doomed, scenario.first, len(raw), batch_size, kill_at, timeout)
                kill["seconds"] = round(kill["at"] - began, 3)
                restarted = time.perf_counter()
            successor = stack.enter_context(cli_process(built, eng.url, "worker", "--name", scenario.successor, **env))
            caught_up = wait_caught_up(built, successor, top, timeout, kill)
        engine_cpu = cpu_seconds(eng.pid) - engine_cpu
        return scenario_figures(built, scenario, began, restarted, caught_up, kill, len(raw), engine_cpu)


def queue(built: Services, raw: list[dict[str, Any]]) -> int:
    """Every event into the stream through intake, as the API would take them; returns the top
    sequenceId. Queued before any worker starts, so all three scenarios start from one backlog."""
    limits = event_limits(built.settings)
    top = 0
    for start in range(0, len(raw), PAGE):
        result = accept(
            built.redis,
            built.keys,
            raw[start : start + PAGE],
            max_pending=built.settings.max_pending_events,
            limits=limits,
        )
        if result.dead_lettered:
            raise BenchError(f"intake refused {result.dead_lettered} Boston events")
        top = max(top, result.max_sequence_id or 0)
    return top


def consumer_pending(built: Services, name: str) -> int:
    """Entries delivered to this consumer name and not acknowledged (XINFO CONSUMERS)."""
    rows: Any = built.redis.xinfo_consumers(built.keys.events, built.keys.group)
    for row in rows:
        if row["name"] in (name, name.encode()):
            return int(row["pending"])
    return 0


def applied(built: Services) -> int:
    return int(built.redis.hget(built.keys.stats, stats.APPLIED) or 0)


def bulk_counts(built: Services) -> tuple[int, int]:
    """(bulk requests, documents written) that acknowledged batches recorded: a dead run's
    unacknowledged bulks never count, so the difference across the kill is the successor's own."""
    raw: Any = built.redis.hmget(built.keys.bulk_metrics, ["count", histogram.DOCUMENTS])
    return int(raw[0] or 0), int(raw[1] or 0)


def _wait(what: str, timeout: float, done: Callable[[], bool], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None:
            raise BenchError(f"worker exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise BenchError(f"no {what} within {timeout} s")
        time.sleep(POLL_SECONDS / 2)


def kill_mid_way(
    built: Services,
    proc: subprocess.Popen[bytes],
    name: str,
    total: int,
    batch_size: int,
    kill_at: float,
    timeout: float,
) -> dict[str, Any]:
    """SIGKILL the worker once about half the events are applied and it holds more than one
    read's worth of delivered, unacknowledged entries. It is frozen while that is checked: a
    kill that lands between an acknowledgement and the next read would leave nothing to recover."""
    _wait(f"{kill_at:.0%} applied", timeout, lambda: applied(built) >= total * kill_at, proc)
    deadline = time.monotonic() + timeout
    stopped = False
    try:
        while True:
            proc.send_signal(signal.SIGSTOP)
            stopped = True
            held = consumer_pending(built, name)
            if held > batch_size:
                break
            proc.send_signal(signal.SIGCONT)
            stopped = False
            done = applied(built)
            if done >= total or proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the worker never held more than {batch_size} entries (applied {done} of {total})")
            time.sleep(POLL_SECONDS / 2)
        at_kill = applied(built)
        bulks_at_kill = bulk_counts(built)
        # Entries nobody has read yet: what a successor reads as new ones, beside the dead run's.
        group: Any = built.redis.xpending(built.keys.events, built.keys.group)
        unread = int(built.redis.xlen(built.keys.events)) - int(group["pending"])
        # The newest entry the dead run had taken: every pending entry up to it is the dead run's.
        newest: Any = built.redis.xpending_range(built.keys.events, built.keys.group, "-", "+", 1_000_000, name)
        proc.send_signal(signal.SIGKILL)
        stopped = False
        at = time.perf_counter()
        proc.wait(10)
    finally:
        if stopped and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # cli_process's SIGTERM must reach a running process
    if len(newest) != held:
        raise BenchError(f"XPENDING lists {len(newest)} entries of {name}, XINFO said {held}")
    return {
        "name": name,
        "at": at,
        "pendingAtKill": held,
        "appliedAtKill": at_kill,
        "unreadAtKill": unread,
        "bulksAtKill": bulks_at_kill,
        "newestId": newest[-1]["message_id"],
        # The pipeline reads ahead of its bulks, so some entries were idle a while before the kill:
        # a sibling may claim them sooner than claim_idle_ms after it starts.
        "oldestIdleMs": max(int(e["time_since_delivered"]) for e in newest),
    }


def wait_caught_up(
    built: Services, proc: subprocess.Popen[bytes], top: int, timeout: float, kill: dict[str, Any]
) -> dict[str, float | None]:
    """Until the watermark says everything is searchable; also notes when the dead run's
    entries were all taken by another consumer and when none of them was pending any more."""
    dead_drained: float | None = None
    dead_settled: float | None = None
    deadline = time.monotonic() + timeout
    while True:
        now = time.perf_counter()
        watermark = pipeline_status(built.redis, built.keys)
        caught_up = watermark["pending"] == 0 and watermark["lastSequenceId"] == top
        # Read after the watermark: an entry settled between the two reads must not make a
        # caught-up stream look as if the dead run's entries were still pending.
        if kill and dead_drained is None and consumer_pending(built, kill["name"]) == 0:
            dead_drained = now
        if kill and dead_settled is None:
            left: Any = built.redis.xpending_range(built.keys.events, built.keys.group, "-", kill["newestId"], 1)
            if not left:
                dead_settled = now
        if caught_up:
            return {"caughtUp": now, "deadDrained": dead_drained, "deadSettled": dead_settled}
        if proc.poll() is not None:
            raise BenchError(f"worker exited ({proc.returncode}) before catching up: {watermark}")
        if time.monotonic() > deadline:
            raise BenchError(f"not caught up within {timeout} s: {watermark}")
        time.sleep(POLL_SECONDS)


def scenario_figures(
    built: Services,
    scenario: Scenario,
    began: float,
    restarted: float | None,
    caught_up: dict[str, float | None],
    kill: dict[str, Any],
    sent: int,
    engine_cpu: float,
) -> dict[str, Any]:
    """The times, and the proof that the fault lost nothing: every accepted event applied once,
    none dead-lettered (documents are compared across scenarios by the caller)."""
    status = pipeline_status(built.redis, built.keys)
    counts = status["events"]
    if not (counts["applied"] == counts["accepted"] == sent and status["deadLetters"] == 0):
        raise BenchError(f"{scenario.key}: events lost or dead-lettered: {status}")
    engine_side = index_status(built.engine, built.names, 30.0)
    if engine_side["engine"]["state"] != "ok":
        raise BenchError(f"{scenario.key}: cannot count documents: {engine_side['engine']}")
    stream: Any = built.redis.xinfo_stream(built.keys.events)
    bulks = bulk_counts(built)
    end = caught_up["caughtUp"]
    assert end is not None

    def since(start: float | None, t: float | None) -> float | None:
        return None if start is None or t is None else round(t - start, 3)

    return {
        "seconds": round(end - began, 3),
        "afterRestartSeconds": since(restarted, end),
        "killedAtSeconds": kill.get("seconds"),
        "pendingAtKill": kill.get("pendingAtKill"),
        "appliedAtKill": kill.get("appliedAtKill"),
        "unreadAtKill": kill.get("unreadAtKill"),
        "oldestIdleAtKillSeconds": None if not kill else round(kill["oldestIdleMs"] / 1000, 3),
        # Successor start → the dead run's entries no longer held by its consumer (sibling: claimed;
        # same name: the consumer is the successor, so only settled below says anything).
        "deadRunTakenSeconds": since(restarted, caught_up["deadDrained"]) if scenario.successor != "w1" else None,
        # Successor start → no entry the dead run had taken is pending under any name.
        "deadRunSettledSeconds": since(restarted, caught_up["deadSettled"]),
        # Every XADD beyond intake's is an entry handed back to the stream's tail because another
        # run's lock held its listing; one entry handed back again and again counts each time.
        "requeued": int(stream["entries-added"]) - counts["accepted"],
        "applied": counts["applied"],
        "documents": engine_side["documents"],
        "publishedDocuments": engine_side["publishedDocuments"],
        # Whether the successor had to write at all: bulks the dead run had sent may have landed
        # in the engine after all, and then settling its entries is a read and a no-op merge.
        "bulkRequestsAfterKill": None if not kill else bulks[0] - kill["bulksAtKill"][0],
        "documentsWrittenAfterKill": None if not kill else bulks[1] - kill["bulksAtKill"][1],
        "bulkRequests": bulks[0],
        "documentsWritten": bulks[1],
        "engineCpuSeconds": round(engine_cpu, 2),
    }


def check_same_documents(result: dict[str, Any]) -> None:
    want = (result["noFault"]["documents"], result["noFault"]["publishedDocuments"])
    for s in SCENARIOS:
        got = (result[s.key]["documents"], result[s.key]["publishedDocuments"])
        if got != want:
            raise BenchError(f"{s.key}: documents / published {got}, the no-fault run has {want}")


def goals(result: dict[str, Any], claim_idle_ms: int) -> dict[str, Any]:
    base = GOAL_FACTOR * result["noFault"]["seconds"] + GOAL_SLACK_SECONDS
    out: dict[str, Any] = {}
    for key, limit, formula in (
        ("sameName", base, f"{GOAL_FACTOR} x no fault + {GOAL_SLACK_SECONDS:g} s"),
        ("sibling", base + claim_idle_ms / 1000, f"{GOAL_FACTOR} x no fault + {GOAL_SLACK_SECONDS:g} s + claim idle"),
    ):
        out[key] = {"formula": formula, "seconds": round(limit, 3), "met": result[key]["seconds"] <= limit}
    return out


def median_figures(per_round: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over rounds (a figure missing in any round stays missing)."""
    out: dict[str, Any] = {}
    for name, first in per_round[0].items():
        values = [r[name] for r in per_round]
        if first is None or any(v is None for v in values):
            out[name] = None
        else:
            median = statistics.median(values)
            out[name] = round(median, 3) if isinstance(median, float) else median
    return out


if __name__ == "__main__":
    main()
