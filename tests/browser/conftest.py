"""A real browser for the storefront tests: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver.

Nothing is downloaded at test time but Debian's packages: the driver's path is given to Selenium,
so Selenium Manager (which would fetch a browser and a driver) never runs. As for Redis
(infra/local_redis.py), a missing browser is installed from Debian's packages when the tests run
as root with apt-get; otherwise the browser tests skip with the command that installs it. Under CI
(`CI=true`) a browser that cannot be had fails the run with the reason instead: CI must never
pass by skipping them.

The browser can reach this machine only: every other host name resolves to nothing
(`--host-resolver-rules`), which also makes the page run "offline" (no map tiles) the same way on
every machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.albany_events import albany_events
from tests.support.service import Service, running_service

if TYPE_CHECKING:
    from celery import Celery
    from selenium.webdriver.remote.webdriver import WebDriver

INSTALL = "apt-get install chromium chromium-driver"
# Debian puts the driver on PATH; its own copy lives beside the browser.
BROWSERS = ("chromium", "chromium-browser")
DRIVERS = ("chromedriver",)
DRIVER_FALLBACK = "/usr/lib/chromium/chromedriver"
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root on CI, where Chromium's sandbox refuses to start
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
    "--lang=en-US",
    "--window-size=1280,800",
)


def _on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _unavailable(reason: str) -> None:
    if _on_ci():
        pytest.fail(f"CI runs the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


def _find() -> tuple[str, str] | None:
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = next((found for name in DRIVERS if (found := shutil.which(name))), None)
    if driver is None and Path(DRIVER_FALLBACK).is_file():
        driver = DRIVER_FALLBACK
    return (browser, driver) if browser and driver else None


def _install() -> str:
    """Debian's packages, the way a missing redis-server is installed; returns apt's last words."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return (done.stderr or done.stdout).strip()[-500:]


def locate_chromium() -> tuple[str, str]:
    """The browser and its driver: found, else installed (root with apt-get), else skip or, on CI, fail."""
    found = _find()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        apt_said = _install()
        found = _find()
        if found is None:
            _unavailable(f"chromium could not be installed with `{INSTALL}`: {apt_said or 'no output'}")
    if found is None:
        _unavailable(f"no chromium and chromedriver on PATH: install them (Debian/Ubuntu: `sudo {INSTALL}`)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    return locate_chromium()


# Package scope: the browser and the service go away when tests/browser is done, instead of
# holding memory and a polling worker through the rest of the suite.
@pytest.fixture(scope="package")
def browser(chromium_paths: tuple[str, str]) -> Iterator[WebDriver]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed: `pip install -e '.[test]'`")
        raise
    binary, driver_path = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    chosen = os.environ.get("LISTING_SEARCH_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("storefront-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    pytestconfig.stash[SCREENSHOTS] = folder
    return folder


SCREENSHOTS = pytest.StashKey[Path]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The folder goes into the run's own output (CI's log included), not only into a failure report."""
    folder = config.stash.get(SCREENSHOTS, None)
    if folder is not None:
        shots = sorted(p.name for p in folder.glob("*.png"))
        terminalreporter.write_line(f"storefront screenshots ({len(shots)}): {folder}  {' '.join(shots)}")


@pytest.fixture(scope="package")
def storefront(engine_url: str, redis_url: str, job_worker: Celery) -> Iterator[Service]:
    """A running service with the page on and the Albany demo data, as `listing-search dev` serves
    it, plus a `multi-enum` and a `boolean` schema so that every kind of filter the page draws is
    there (the same two keys tests/integration/test_facets.py adds)."""
    events = albany_events()
    with running_service(engine_url, redis_url, jobs=job_worker, storefront=True) as service:
        for i in range(0, len(events), 500):
            service.send(events[i : i + 500])
        service.wait_searchable(timeout=120)
        service.apply_schema("public", "amenities", "multi-enum")
        service.apply_schema("public", "instantBookable", "boolean", doc="Instant booking")
        yield service
