"""Counters kept in one Redis hash, with the field names in one place."""

from __future__ import annotations

from typing import Final

ACCEPTED: Final = "accepted"
IGNORED: Final = "ignored"
DEAD_LETTERED: Final = "dead_lettered"
APPLIED: Final = "applied"
# Bookings accepted but waiting for the transaction that names their listing; transaction events
# that linked a booking's transaction to its listing.
WAITING: Final = "waiting"
LINKED: Final = "linked"
# Highest sequenceId accepted at intake / whose effect is searchable.
ACCEPTED_SEQ: Final = "accepted_seq"
LAST_SEQ: Final = "last_seq"

# Raise a hash field to a value if it is higher (Redis has no HMAX).
RAISE_TO_LUA: Final = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur == false or tonumber(ARGV[2]) > tonumber(cur) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
"""
