"""Our Transit writer, read back by the Flex SDK's own reader (transit-js): random documents,
compact and verbose, must decode to exactly what was written."""

from __future__ import annotations

import json
import random
import string
import subprocess
from datetime import UTC, datetime
from typing import Any

from search_api.edge import transit
from tests.support.sdk import SDK_DIR, node_or_skip

ALPHABET = string.ascii_letters + "~^`: #$_-" + "é漢"


def a_string(rng: random.Random) -> str:
    head = rng.choice(["", "~", "^", "`", "~:", "^ ", "~#", "~u", "~m"])
    return head + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))


def a_value(rng: random.Random, depth: int = 0) -> tuple[Any, Any]:
    """(value to write, what the reader must give back, in transit_read.js's plain form)."""
    kind = rng.randint(0, 11 if depth < 4 else 5)
    if kind == 0:
        return None, None
    if kind == 1:
        b = rng.random() < 0.5
        return b, b
    if kind == 2:
        n = rng.randint(-(2**52), 2**52)
        return n, n
    if kind == 3:
        f = rng.uniform(-180, 180)
        return f, f
    if kind in (4, 5):
        s = a_string(rng)
        return s, s
    if kind == 6:
        u = f"{rng.getrandbits(32):08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
        return transit.Uuid(u), {"$uuid": u}
    if kind == 7:
        amount, currency = rng.randint(0, 10**9), rng.choice(["USD", "EUR"])
        return transit.Money(amount, currency), {"$money": [amount, currency]}
    if kind == 8:
        lat, lng = rng.uniform(-90, 90), rng.uniform(-180, 180)
        return transit.LatLng(lat, lng), {"$latlng": [lat, lng]}
    if kind == 9:
        ms = rng.randint(0, 4_000_000_000) * 1000
        iso = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
        return transit.Instant(iso.replace("+00:00", "Z")), {"$date": ms}
    if kind == 10:
        pairs = [a_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    written: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for _ in range(rng.randint(0, 6)):
        # Keys from a small pool, so the same keys come back and are read from the cache.
        key = rng.choice(["id", "type", "data", "attributes", "publicData", "~x", "^y", "`z", a_string(rng)])
        w, e = a_value(rng, depth + 1)
        written[key], expected[key] = w, e
    return written, expected


def test_the_sdk_reader_decodes_what_we_write() -> None:
    node = node_or_skip()
    rng = random.Random(15)
    cases = [a_value(rng) for _ in range(400)]
    # One document big enough to roll the cache over (44 * 44 codes) more than once.
    # New keys fill it; a few keyword values are read from it again and again across rollovers.
    many = {f"key{i}": transit.Keyword(f"kw{i % 7}") for i in range(5000)}
    cases.append((many, {f"key{i}": f"kw{i % 7}" for i in range(5000)}))
    docs = [transit.dumps(w, verbose=v).decode() for w, _ in cases for v in (False, True)]
    run = subprocess.run(
        [node, "transit_read.js"],
        cwd=SDK_DIR,
        input="".join(json.dumps(d) + "\n" for d in docs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    got = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(got) == len(docs)
    for i, answer in enumerate(got):
        expected = cases[i // 2][1]
        assert answer == {"ok": expected}, (docs[i][:500], answer)
