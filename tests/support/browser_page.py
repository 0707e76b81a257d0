"""The storefront page in a real browser, with waits on its DOM state (never a sleep):
`body[data-search-state]` is `ready` once the newest search is drawn, `#results[data-query]` is the
exact API query behind what is shown, and `#result-count[data-total]` its `totalItems`."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

WAIT_SECONDS = 20.0
WIDE = (1280, 800)
PHONE = (390, 844)

_STATE_JS = """
const r = document.getElementById('results'), c = document.getElementById('result-count');
return {state: document.body.dataset.searchState, query: r.dataset.query || '', total: c.dataset.total || null,
        url: location.href};
"""


@dataclasses.dataclass
class Shown:
    state: str
    query: str
    total: int | None
    url: str

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query, keep_blank_values=True).items()}

    @property
    def url_params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlparse(self.url).query, keep_blank_values=True).items()}


class Page:
    """The storefront in the browser, with waits on its DOM state."""

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.driver = driver
        self.base = base

    def viewport(self, width: int, height: int) -> None:
        # The exact CSS viewport (window sizes include browser chrome on some builds).
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )

    def open(
        self, path: str = "/", *, size: tuple[int, int] = WIDE, until: tuple[str, ...] = ("ready", "error")
    ) -> Shown:
        self.viewport(*size)
        self.driver.get(self.base + path)
        return self.wait(lambda s: s.state in until, f"the page to be {' or '.join(until)}")

    def shown(self) -> Shown:
        raw: dict[str, Any] = self.driver.execute_script(_STATE_JS)
        return Shown(raw["state"], raw["query"], int(raw["total"]) if raw["total"] is not None else None, raw["url"])

    def wait(self, check: Callable[[Shown], bool], what: str = "the page to show the search") -> Shown:
        seen: list[Shown] = []

        def done(_: WebDriver) -> Shown | None:
            now = self.shown()
            seen[:] = [now]
            return now if check(now) else None

        try:
            result: Shown = WebDriverWait(self.driver, WAIT_SECONDS, poll_frequency=0.05).until(done)
        except Exception as exc:
            raise AssertionError(f"waited {WAIT_SECONDS} s for {what}; the page shows {seen}") from exc
        return result

    def wait_query(self, check: Callable[[dict[str, str]], bool], what: str) -> Shown:
        return self.wait(lambda s: s.state == "ready" and check(s.params), what)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def cards(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.js(
            "return [...document.querySelectorAll('#cards .card')].map(c => ({id: c.dataset.id,"
            " lat: c.dataset.lat ? Number(c.dataset.lat) : null, lng: c.dataset.lng ? Number(c.dataset.lng) : null,"
            " title: c.querySelector('h2').textContent, price: c.querySelector('.price').textContent,"
            " type: (c.querySelector('.type') || {}).textContent || null}))"
        )
        return result

    def choice(self, param: str, value: str) -> Any:
        return self.find(f'input[data-param="{param}"][data-value="{value}"]')

    def count_beside(self, param: str, value: str) -> int:
        text = self.js(
            "const i = document.querySelector(`input[data-param='${arguments[0]}'][data-value='${arguments[1]}']`);"
            "return i.closest('label').querySelector('.count').dataset.count;",
            param,
            value,
        )
        return int(text)

    def probe(self) -> dict[str, Any]:
        result: dict[str, Any] = self.js(
            "const p = window.__storefront; return {searchRequests: p.searchRequests, inputTimes: p.inputTimes,"
            " requestTimes: p.requestTimes, firstResultsAt: p.firstResultsAt};"
        )
        return result

    def screenshot(self, folder: Path, name: str, size: tuple[int, int]) -> Path:
        path = folder / name
        self.driver.save_screenshot(str(path))
        assert png_size(path) == size, (path, png_size(path))
        return path


def png_size(path: Path) -> tuple[int, int]:
    with path.open("rb") as f:
        header = f.read(24)
    width, height = struct.unpack(">II", header[16:24])
    return width, height
