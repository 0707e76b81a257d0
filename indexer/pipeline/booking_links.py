"""Bookings reach their listing through their transaction.

A Flex booking's one-to-one relationship is its transaction, not the listing (Sharetribe docs,
references/events "Resource data and previous values"; the Integration API's booking resource).
`transaction/*` events carry `relationships.listing` and `relationships.booking`, and within one
transition Flex emits `booking/created` (or `booking/updated`) *before* the transaction's event
(references/events). So intake records links (a transaction's and a booking's id → the listing
id) and routes every booking event through them:

- a booking whose transaction (or own id) is linked goes into the stream with that listing;
- one that is not yet linked waits, durably, in Redis (`wait:<key>`, a list, and the `waiting`
  sorted set: key → when it began waiting) and is counted (`stats.waiting`) so status shows it;
- a link releases whatever waited for it into the stream in the same script, so a booking is
  never lost between the two and never queued twice.

Everything happens in Lua inside intake's MULTI/EXEC, in the order events were given, so two API
processes (or the poller and `POST /v1/events`) can never race a booking past its link.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from indexer.pipeline import stats
from indexer.pipeline.stream_entry import EVENT, LISTING
from indexer.redis_keys import RedisKeys
from schemas.events import ChangeEvent

# One script for every event intake queues, in the order given. Operations, flat in ARGV after
# the wait-key prefix and the time:
#   q <payload> <listing>          queue an event of a known listing
#   b <payload> <transaction|''> <booking>
#                                  a booking without its listing: queue it if its transaction (or
#                                  itself) is linked, else park it under the transaction (or itself)
#   k <transaction> <listing> <booking|''>
#                                  record a link and queue whatever waited for it
# Returns {queued, parked, released, linked}; the waiting counter moves by parked - released.
ROUTE_LUA = f"""
local stream, links, waiting, counters = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local wait_prefix, now = ARGV[1], ARGV[2]
local queued, parked, released, linked = 0, 0, 0, 0
local function release(key, lid)
  local wk = wait_prefix .. key
  local items = redis.call('LRANGE', wk, 0, -1)
  for _, payload in ipairs(items) do
    redis.call('XADD', stream, '*', '{EVENT}', payload, '{LISTING}', lid)
  end
  if #items > 0 then
    redis.call('DEL', wk)
    redis.call('ZREM', waiting, key)
    released = released + #items
  end
end
local i = 3
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'q' then
    redis.call('XADD', stream, '*', '{EVENT}', ARGV[i + 1], '{LISTING}', ARGV[i + 2])
    queued = queued + 1
    i = i + 3
  elseif op == 'b' then
    local payload, tx, bid = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local lid = false
    if tx ~= '' then lid = redis.call('HGET', links, tx) end
    if not lid then lid = redis.call('HGET', links, bid) end
    if lid then
      redis.call('XADD', stream, '*', '{EVENT}', payload, '{LISTING}', lid)
      redis.call('HSET', links, bid, lid)
      queued = queued + 1
    else
      local key = bid
      if tx ~= '' then key = tx end
      redis.call('RPUSH', wait_prefix .. key, payload)
      redis.call('ZADD', waiting, 'NX', now, key)
      parked = parked + 1
    end
    i = i + 4
  else
    local tx, lid, bid = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    redis.call('HSET', links, tx, lid)
    release(tx, lid)
    if bid ~= '' then
      redis.call('HSET', links, bid, lid)
      release(bid, lid)
    end
    linked = linked + 1
    i = i + 4
  end
end
if parked ~= released then redis.call('HINCRBY', counters, '{stats.WAITING}', parked - released) end
if linked > 0 then redis.call('HINCRBY', counters, '{stats.LINKED}', linked) end
return {{queued, parked, released, linked}}
"""
# Operations per script call: enough to amortise the call, small enough not to stall Redis.
ROUTE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Link:
    """What a transaction tells: its listing, and its booking when it has one."""

    transaction_id: str
    listing_id: str
    booking_id: str | None = None


def route_args(keys: RedisKeys, ops: Sequence[Sequence[str | bytes]]) -> list[str | bytes]:
    """The script's ARGV for these operations (`("q", payload, lid)`, `("b", payload, tx, bid)`,
    `("k", tx, lid, bid)`)."""
    args: list[str | bytes] = [keys.wait_prefix, str(int(time.time() * 1000))]
    for op in ops:
        args += op
    return args


def route(pipe: Any, keys: RedisKeys, ops: Sequence[Sequence[str | bytes]]) -> None:
    """Queue the routing of these operations on a pipeline (intake's transaction)."""
    for start in range(0, len(ops), ROUTE_CHUNK):
        args = route_args(keys, ops[start : start + ROUTE_CHUNK])
        pipe.eval(ROUTE_LUA, 4, keys.events, keys.links, keys.waiting, keys.stats, *args)


def link(client: redis.Redis, keys: RedisKeys, links: Sequence[Link]) -> int:
    """Record links learnt elsewhere (the poller's `transactions/show`, a re-sync's reads of
    transactions) and queue the bookings that waited for them; returns how many were queued."""
    if not links:
        return 0
    pipe = client.pipeline(transaction=True)
    route(pipe, keys, [("k", lk.transaction_id, lk.listing_id, lk.booking_id or "") for lk in links])
    return sum(int(result[2]) for result in pipe.execute())


def waiting(client: redis.Redis, keys: RedisKeys, *, older_than_ms: int = 0, limit: int = 100) -> list[str]:
    """Keys (transaction ids, or booking ids when the transaction is unknown) with bookings that
    have waited at least `older_than_ms`, oldest first."""
    upto = int(time.time() * 1000) - older_than_ms
    found: Any = client.zrangebyscore(keys.waiting, "-inf", upto, start=0, num=limit)
    return [k.decode() if isinstance(k, bytes) else str(k) for k in found]


def queue_op(ev: ChangeEvent) -> tuple[str | bytes, ...]:
    """How `booking_links.route` queues a valid event: with its listing, or routed through its
    transaction when it is a booking that does not name its listing."""
    if ev.listing_id:
        return ("q", ev.to_json(), ev.listing_id)
    return ("b", ev.to_json(), ev.transaction_id or "", ev.resource_id)


__all__ = ["Link", "link", "queue_op", "route", "waiting"]
