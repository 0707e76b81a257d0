"""The join/finish protocol that makes quick successive schema changes all reach the index."""

from __future__ import annotations

from indexer.jobs import records
from indexer.rebuild.job import _FINISH, join_running, start_rebuild
from tests.support.service import Service


def test_a_change_joins_the_running_rebuild_or_starts_a_new_one(service: Service) -> None:
    services = service.services
    queued: list[str] = []
    first = start_rebuild(services, reason="t", enqueue=queued.append, generation=5)
    assert queued == [first]
    # While it is queued or running, later changes join it rather than starting another.
    assert start_rebuild(services, reason="t", enqueue=queued.append, generation=6) == first
    assert join_running(services, 7) == first
    assert queued == [first]
    finish = services.redis.register_script(_FINISH)
    keys = [services.keys.current_rebuild, services.keys.rebuild_wanted, services.keys.resync_wanted]
    # It built generation 5, but 7 was asked for meanwhile: it must run another round.
    assert finish(keys=keys, args=[first, 5]) == 0
    # A re-sync asked for meanwhile joins it too: another round, which reads the source.
    assert start_rebuild(services, reason="t", enqueue=queued.append, generation=7, resync=True) == first
    assert finish(keys=keys, args=[first, 7]) == 0
    assert services.redis.getdel(services.keys.resync_wanted) is not None  # what that round does first
    assert finish(keys=keys, args=[first, 7]) == 1
    # Once finished, a change starts a new rebuild.
    assert join_running(services, 8) is None
    second = start_rebuild(services, reason="t", enqueue=queued.append, generation=8)
    assert second != first and queued == [first, second]


def test_a_dead_job_does_not_block_new_rebuilds(service: Service) -> None:
    services = service.services
    queued: list[str] = []
    first = start_rebuild(services, reason="t", enqueue=queued.append, generation=1)
    records.update(services.redis, services.keys, first, state=records.FAILED)
    second = start_rebuild(services, reason="t", enqueue=queued.append, generation=2)
    assert second != first and queued == [first, second]
