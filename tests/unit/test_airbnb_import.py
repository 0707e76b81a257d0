"""The Inside Airbnb importer must yield events that intake accepts, in a stable, replayable form."""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from listing_search.demo.airbnb_import import (
    CALENDAR_FILE,
    DEMO_DATA_DIR,
    LISTINGS_FILE,
    AirbnbDataset,
    _airbnb_id,
    count_events,
    iter_events,
    load_dataset,
    parse_price,
)
from schemas.events import ChangeEvent, classify

TODAY = date(2026, 11, 22)
ALBANY_LISTINGS = 421
ALBANY_RANGES = 1294


@pytest.fixture(scope="module")
def albany() -> AirbnbDataset:
    return load_dataset(DEMO_DATA_DIR)


@pytest.fixture(scope="module")
def albany_events(albany: AirbnbDataset) -> list[dict[str, Any]]:
    return list(iter_events(albany, today=TODAY, first_seq=17))


def _listing_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["attributes"]["eventType"] == "listing/created"]


def _by_airbnb_id(events: list[dict[str, Any]], airbnb_id: str) -> dict[str, Any]:
    for event in _listing_events(events):
        attrs: dict[str, Any] = event["attributes"]["resource"]["attributes"]
        if attrs["metadata"]["airbnbId"] == airbnb_id:
            return attrs
    raise AssertionError(f"no listing {airbnb_id}")


def _assert_all_classify(events: list[dict[str, Any]]) -> None:
    for event in events:
        result = classify(event)
        assert isinstance(result, ChangeEvent), (event["attributes"]["sequenceId"], result)


def test_shipped_albany_copy_loads(albany: AirbnbDataset) -> None:
    assert albany.city == "albany"
    assert len(albany.listings) == ALBANY_LISTINGS
    assert albany.skipped_rows == 0
    assert albany.skipped_ranges == 0
    assert sum(len(runs) for runs in albany.unavailable.values()) == ALBANY_RANGES
    # 420 rows say 2024-11-05, one says 2024-11-09: the most common date wins.
    assert albany.scrape_date == date(2024, 11, 5)
    assert [int(r["id"]) for r in albany.listings] == sorted(int(r["id"]) for r in albany.listings)


def test_event_count_and_sequence_ids(albany: AirbnbDataset, albany_events: list[dict[str, Any]]) -> None:
    assert len(albany_events) == count_events(albany) == ALBANY_LISTINGS + ALBANY_RANGES
    seqs = [e["attributes"]["sequenceId"] for e in albany_events]
    assert seqs == list(range(17, 17 + len(albany_events)))
    assert len(_listing_events(albany_events)) == ALBANY_LISTINGS


def test_output_is_deterministic_and_ids_unique(albany: AirbnbDataset, albany_events: list[dict[str, Any]]) -> None:
    again = list(iter_events(albany, today=TODAY, first_seq=17))
    assert json.dumps(again) == json.dumps(albany_events)
    assert len({e["id"] for e in albany_events}) == len(albany_events)
    assert len({e["attributes"]["resourceId"] for e in albany_events}) == len(albany_events)
    # Renumbering must not change any id: replays from another sequence start hit the same documents.
    shifted = list(iter_events(albany, today=TODAY, first_seq=1000))
    assert [e["id"] for e in shifted] == [e["id"] for e in albany_events]


def test_every_albany_event_classifies(albany_events: list[dict[str, Any]]) -> None:
    _assert_all_classify(albany_events)


def test_extended_data_never_holds_null(albany_events: list[dict[str, Any]]) -> None:
    for event in _listing_events(albany_events):
        attrs = event["attributes"]["resource"]["attributes"]
        for name in ("publicData", "metadata"):
            assert None not in attrs[name].values()


@pytest.mark.parametrize(
    ("text", "cents"),
    [("$1,250.00", 125000), ("$70.00", 7000), ("$0.99", 99), ("$1,250.10", 125010), (" ", None), ("", None)],
)
def test_price_parses_to_cents(text: str, cents: int | None) -> None:
    assert parse_price(text) == cents


@pytest.mark.parametrize("text", ["$abc", "$-5.00", "$Infinity", "$NaN"])
def test_bad_price_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_price(text)


def test_empty_price_is_draft(albany: AirbnbDataset, albany_events: list[dict[str, Any]]) -> None:
    unpriced = [r["id"] for r in albany.listings if not r["price"].strip()]
    assert unpriced
    for airbnb_id in unpriced:
        attrs = _by_airbnb_id(albany_events, airbnb_id)
        assert attrs["state"] == "draft"
        assert attrs["price"] is None
    priced = _by_airbnb_id(albany_events, "2992450")
    assert priced["state"] == "published"
    assert priced["price"] == {"amount": 7000, "currency": "USD"}


def test_exception_dates_shift_to_today(albany: AirbnbDataset, albany_events: list[dict[str, Any]]) -> None:
    first_start, first_end = albany.unavailable["2992450"][0]
    assert (first_start, first_end) == (date(2024, 11, 5), date(2025, 3, 30))
    # 2992450 is the lowest id, so its listing event comes first and its first exception right after.
    listing_index = 0
    assert albany_events[0]["attributes"]["resource"]["attributes"]["metadata"]["airbnbId"] == "2992450"
    exception = albany_events[listing_index + 1]["attributes"]
    assert exception["eventType"] == "availabilityException/created"
    attrs = exception["resource"]["attributes"]
    assert attrs["start"] == f"{TODAY}T00:00:00.000Z"
    # end is exclusive: the inclusive end 2025-03-30, shifted, plus one day.
    expected_end = TODAY + (date(2025, 3, 30) - date(2024, 11, 5)) + timedelta(days=1)
    assert attrs["end"] == f"{expected_end}T00:00:00.000Z"
    assert attrs["seats"] == 0
    listing_id = albany_events[listing_index]["attributes"]["resourceId"]
    assert exception["resource"]["relationships"]["listing"]["data"]["id"] == listing_id


def test_created_at_spread_over_five_years(albany_events: list[dict[str, Any]]) -> None:
    stamps = [e["attributes"]["createdAt"] for e in _listing_events(albany_events)]
    moments = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps]
    assert all((b - a).total_seconds() >= 1 for a, b in itertools.pairwise(moments))
    assert moments[0].date() >= TODAY - timedelta(days=5 * 365)
    assert moments[-1].date() < TODAY
    assert all(s.endswith(".000Z") and len(s) == 24 for s in stamps)


def _write_gz(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with gzip.open(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _real_header() -> list[str]:
    """The shipped file's own columns, so the synthetic rows cannot drift from the real layout."""
    with gzip.open(DEMO_DATA_DIR / LISTINGS_FILE, "rt", newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


_HEADER = _real_header()


def _row(airbnb_id: str, lat: str = "42.5", price: str = "$1,250.00", **overrides: str) -> list[str]:
    values = dict.fromkeys(_HEADER, "")
    values.update(
        id=airbnb_id,
        name=" Cosy room ",
        description="Line one<br />Line two<br/>end",
        latitude=lat,
        longitude="-73.7",
        room_type="Private room",
        accommodates="2",
        amenities='["Wifi", "Wifi", " Kitchen"]',
        price=price,
        minimum_nights="1",
        maximum_nights="30",
        instant_bookable="t",
        number_of_reviews="3",
        review_scores_rating="4.93",
        last_scraped="2024-01-10",
    )
    values.update(overrides)
    return [values[c] for c in _HEADER]


def test_synthetic_rows_map_and_bad_rows_are_skipped(tmp_path: Path) -> None:
    city = tmp_path / "testville"
    city.mkdir()
    _write_gz(
        city / LISTINGS_FILE,
        _HEADER,
        [
            _row("20"),
            _row("3", lat="north", price=""),
            _row("100", price="", host_is_superhost="f"),
        ],
    )
    _write_gz(
        city / CALENDAR_FILE,
        ["listing_id", "start_date", "end_date_inclusive"],
        [
            ["20", "2024-01-10", "2024-01-10"],
            ["3", "2024-01-12", "2024-01-13"],
            ["20", "2024-02-01", "bad"],
        ],
    )
    ds = load_dataset(city)
    assert (ds.city, ds.skipped_rows, ds.skipped_ranges) == ("testville", 1, 2)
    events = list(iter_events(ds, today=date(2030, 1, 1)))
    assert [e["attributes"]["eventType"] for e in events] == [
        "listing/created",
        "availabilityException/created",
        "listing/created",
    ]
    _assert_all_classify(events)
    first = events[0]["attributes"]["resource"]["attributes"]
    assert first["title"] == "Cosy room"
    assert first["description"] == "Line one\nLine two\nend"
    assert first["price"] == {"amount": 125000, "currency": "USD"}
    assert first["publicData"] == {
        "listingType": "Private room",
        "amenities": ["Wifi", "Kitchen"],
        "guests": 2,
        "instantBookable": True,
        "minimumNights": 1,
        "maximumNights": 30,
    }
    assert first["metadata"] == {"rating": 493, "reviews": 3, "source": "insideairbnb", "airbnbId": "20"}
    assert events[1]["attributes"]["resource"]["attributes"]["start"] == "2030-01-01T00:00:00.000Z"
    assert events[1]["attributes"]["resource"]["attributes"]["end"] == "2030-01-02T00:00:00.000Z"
    last = events[2]["attributes"]["resource"]["attributes"]
    assert (last["state"], last["metadata"]["superhost"]) == ("draft", False)


def _boston_dir() -> Path:
    shared = os.environ.get("LISTING_SEARCH_SHARED_DATA")
    base = Path(shared) if shared else Path(__file__).resolve().parents[3] / "shared" / "data"
    return base / "boston"


def test_boston_events_all_classify() -> None:
    boston = _boston_dir()
    if not boston.is_dir():
        pytest.skip(f"Boston data not found at {boston} (set LISTING_SEARCH_SHARED_DATA to the data dir)")
    ds = load_dataset(boston)
    assert ds.scrape_date == date(2024, 6, 22)
    events = list(iter_events(ds, today=TODAY))
    assert len(events) == count_events(ds)
    assert [e["attributes"]["sequenceId"] for e in events] == list(range(1, len(events) + 1))
    _assert_all_classify(events)


@pytest.mark.parametrize("text", ["", "12a", "²", "\u0661\u0662", "-5"])
def test_listing_id_must_be_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError, match="is not numeric"):
        _airbnb_id({"id": text})


def test_only_our_own_version_suffix_names_an_index() -> None:
    from schemas.index_layout import IndexNames

    names = IndexNames("shop")
    assert names.version_of("shop-v12") == 12
    assert names.version_of("shop-v²") is None and names.version_of("shop-v\u0661") is None
    assert names.version_of("other-v3") is None
