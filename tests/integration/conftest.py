from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.service import Service, running_service


@pytest.fixture
def service(engine_url: str, redis_url: str) -> Iterator[Service]:
    with running_service(engine_url, redis_url) as svc:
        yield svc
