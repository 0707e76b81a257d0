"""When the sync counts as configured, and when a checkpoint is too old to continue."""

from __future__ import annotations

from indexer.sharetribe.poller import retention_safety_s
from infra.settings import Settings


def test_the_sync_needs_both_credentials_and_empty_means_unset() -> None:
    assert not Settings().sync_configured()
    assert not Settings(sharetribe_client_id="", sharetribe_client_secret="").sync_configured()  # compose's default
    assert not Settings(sharetribe_client_id="id", sharetribe_client_secret="").sync_configured()
    assert Settings(sharetribe_client_id="id", sharetribe_client_secret="secret").sync_configured()


def test_a_checkpoint_is_given_up_a_day_before_retention_or_a_tenth_if_shorter() -> None:
    assert retention_safety_s(90) == 86_400
    assert retention_safety_s(7) == 60_480  # a dev marketplace: 0.7 days
    assert retention_safety_s(0.5) == 4_320
