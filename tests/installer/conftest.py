from __future__ import annotations

from pathlib import Path

import pytest

from tests.installer import builds


@pytest.fixture(scope="session")
def agent_dist() -> Path:
    return builds.agent_bundle()


@pytest.fixture(scope="session")
def deb(agent_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return builds.deb_package(agent_dist, tmp_path_factory.mktemp("deb"))
