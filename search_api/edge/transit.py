"""Transit (JSON and JSON-verbose) for the Flex SDK, which decodes only Transit answers.

A small writer of our own rather than a library: the maintained Python 3 fork
(`transit-python2`) writes any `str` as a string and any `dict` key as a string, so typing
ids, keywords, Money and LatLng would still be ours to do, and it is pure-Python slow. What we
write is a fixed, small set of types, checked against the real reader (transit-js, through the
published `sharetribe-flex-sdk`, in tests/sdk/).

The format is the Transit spec (github.com/cognitect/transit-format, "Ground and extension
types", "Caching"): a map is `["^ ", k1, v1, ...]` (verbose: a JSON object); keys and keywords
longer than 3 characters are cached and written as `^<code>` when seen again (never in
verbose); a string starting with `~`, `^` or `` ` `` is escaped with a leading `~`; a tagged
value is `["~#tag", rep]` (verbose: `{"~#tag": rep}`); a top-level scalar is wrapped in
`["~#'", v]`. The Flex types are those the SDK reads (sharetribe-flex-sdk src/serializer.js
`typeMap`): `u` UUID, `mn` Money `[amount, currency]`, `geo` LatLng `[lat, lng]`; timestamps
are `~t<ISO>` (verbose) or `~m<epoch ms>`, read by transit-js as `Date`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

CONTENT_TYPE = "application/transit+json;charset=UTF-8"
_CACHE_SIZE = 44 * 44
_BASE = 44
_FIRST = 48


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str


@dataclass(frozen=True, slots=True)
class Uuid:
    value: str


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class LatLng:
    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class Instant:
    """A timestamp from the API's JSON form (`2024-01-01T00:00:00.000Z`)."""

    iso: str

    def epoch_ms(self) -> int:
        return int(datetime.fromisoformat(self.iso.replace("Z", "+00:00")).timestamp() * 1000)


def _escape(s: str) -> str:
    return "~" + s if s[:1] in ("~", "^", "`") else s


class _Cache:
    def __init__(self) -> None:
        self._codes: dict[str, str] = {}

    def write(self, s: str, *, as_key: bool) -> str:
        """`s` (already in its Transit string form), or its cache code when seen before."""
        if len(s) <= 3 or not (as_key or s.startswith(("~:", "~$", "~#"))):
            return s
        code = self._codes.get(s)
        if code is not None:
            return code
        n = len(self._codes)
        if n == _CACHE_SIZE:
            self._codes.clear()
            n = 0
        hi, lo = divmod(n, _BASE)
        self._codes[s] = "^" + (chr(lo + _FIRST) if hi == 0 else chr(hi + _FIRST) + chr(lo + _FIRST))
        return s


class _Writer:
    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.cache = None if verbose else _Cache()

    def _str(self, s: str, *, as_key: bool = False) -> str:
        return self.cache.write(s, as_key=as_key) if self.cache is not None else s

    def key(self, k: Any) -> Any:
        # Map keys are keywords, as in Flex's own answers (`~:data`, `~:attributes`, ...).
        if isinstance(k, Keyword | str):
            name = k.name if isinstance(k, Keyword) else k
            return self._str("~:" + name, as_key=True)
        raise TypeError(f"unsupported Transit map key {k!r}")

    def tagged(self, tag: str, rep: Any) -> Any:
        t = self._str("~#" + tag)
        return {t: rep} if self.verbose else [t, rep]

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | int | float):
            return v
        if isinstance(v, str):
            return _escape(v)
        if isinstance(v, dict):
            if self.verbose:
                return {self.key(k): self.value(x) for k, x in v.items()}
            out: list[Any] = ["^ "]
            for k, x in v.items():
                out.append(self.key(k))
                out.append(self.value(x))
            return out
        if isinstance(v, list | tuple):
            return [self.value(x) for x in v]
        if isinstance(v, Keyword):
            return self._str("~:" + v.name)
        if isinstance(v, Uuid):
            return "~u" + v.value
        if isinstance(v, Instant):
            return "~t" + v.iso if self.verbose else "~m" + str(v.epoch_ms())
        if isinstance(v, Money):
            return self.tagged("mn", [v.amount, v.currency])
        if isinstance(v, LatLng):
            return self.tagged("geo", [v.lat, v.lng])
        raise TypeError(f"unsupported Transit value {v!r}")


def dumps(value: Any, *, verbose: bool = False) -> bytes:
    w = _Writer(verbose)
    out = w.value(value)
    if not isinstance(out, dict | list):
        out = {"~#'": out} if verbose else ["~#'", out]
    return orjson.dumps(out)


# --- Flex's typed resources -----------------------------------------------------------------------

# Attributes that are timestamps in Flex's resources (listing, user, image, booking, ...).
_TIMESTAMPS = frozenset({"createdAt", "updatedAt", "start", "end", "displayStart", "displayEnd", "lastTransitionedAt"})
# Attributes holding the marketplace's own JSON, written as plain data with nothing typed inside.
_FREE_FORM = frozenset({"publicData", "metadata", "protectedData", "privateData", "availabilityPlan", "profile"})


def _uuid_or_str(v: Any) -> Any:
    return Uuid(v) if isinstance(v, str) and len(v) == 36 else v


def _ref(ref: Any) -> Any:
    if not isinstance(ref, dict):
        return ref
    out = dict(ref)
    if "id" in out:
        out["id"] = _uuid_or_str(out["id"])
    if isinstance(out.get("type"), str):
        out["type"] = Keyword(out["type"])
    return out


def _attribute(name: str, v: Any) -> Any:
    if name in _FREE_FORM:
        return v
    if name == "price" and isinstance(v, dict) and {"amount", "currency"} <= v.keys():
        return Money(v["amount"], v["currency"])
    if name == "geolocation" and isinstance(v, dict) and {"lat", "lng"} <= v.keys():
        return LatLng(v["lat"], v["lng"])
    if name in _TIMESTAMPS and isinstance(v, str):
        return Instant(v)
    return v


def _resource(res: Any, *, relationships: bool) -> Any:
    if not isinstance(res, dict):
        return res
    out = _ref(res)
    attrs = res.get("attributes")
    if isinstance(attrs, dict):
        out["attributes"] = {k: _attribute(k, v) for k, v in attrs.items()}
    rels = res.get("relationships")
    if not relationships:
        out.pop("relationships", None)
    elif isinstance(rels, dict):
        typed: dict[str, Any] = {}
        for name, rel in rels.items():
            if isinstance(rel, dict) and "data" in rel:
                data = rel["data"]
                rel = {**rel, "data": [_ref(d) for d in data] if isinstance(data, list) else _ref(data)}
            typed[name] = rel
        out["relationships"] = typed
    return out


def typed_body(body: Any) -> Any:
    """The API's JSON answer with Flex's types marked: resources in `data` and `included`, and
    error ids. `meta` and anything else stays plain data.

    An answer without `included` (no `include` asked) loses its resources' relationships, as
    Flex's own do: a relationship names an entity the client must then find, and the Web
    Template's denormalisation throws on one that is not there. The JSON answer keeps its
    `relationships.author`, as it always has."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    rels = "included" in body
    data = body.get("data")
    if isinstance(data, list):
        out["data"] = [_resource(r, relationships=rels) for r in data]
    elif isinstance(data, dict):
        out["data"] = _resource(data, relationships=rels)
    if isinstance(body.get("included"), list):
        out["included"] = [_resource(r, relationships=True) for r in body["included"]]
    if isinstance(body.get("errors"), list):
        out["errors"] = [
            {**e, "id": _uuid_or_str(e.get("id"))} if isinstance(e, dict) and "id" in e else e for e in body["errors"]
        ]
    return out


def wants_transit(accept: str | None) -> bool:
    """True when `Accept` names Transit with a non-zero quality (the SDK sends exactly it)."""
    if not accept:
        return False
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() == "application/transit+json":
            return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
    return False
