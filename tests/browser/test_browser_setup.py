"""How the browser tests get their browser: installed when possible, a skip that says how
otherwise, and never a silent skip under CI. No browser is started here."""

from __future__ import annotations

import pytest

from tests.browser import conftest

PATHS = ("/usr/bin/chromium", "/usr/bin/chromedriver")


def test_found_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "_find", lambda: PATHS)
    monkeypatch.setattr(conftest, "_install", lambda: pytest.fail("nothing to install"))
    assert conftest.locate_chromium() == PATHS


def test_missing_is_installed_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[bool] = []
    monkeypatch.setattr(conftest, "_find", lambda: PATHS if installed else None)
    monkeypatch.setattr(conftest, "_install", lambda: installed.append(True) or "")
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 0)
    monkeypatch.setattr(conftest.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert conftest.locate_chromium() == PATHS and installed == [True]


@pytest.mark.parametrize("ci", ["", "true"])
def test_missing_without_root_skips_with_the_command_or_fails_on_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setattr(conftest, "_find", lambda: None)
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("CI", ci)
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome, match="apt-get install chromium chromium-driver"):
        conftest.locate_chromium()


def test_a_failed_install_fails_on_ci_with_apts_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "_find", lambda: None)
    monkeypatch.setattr(conftest, "_install", lambda: "E: Unable to locate package chromium")
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 0)
    monkeypatch.setattr(conftest.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Unable to locate package chromium"):
        conftest.locate_chromium()
