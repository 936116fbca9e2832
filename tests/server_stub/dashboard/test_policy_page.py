"""Policy page: version, objectives and resources of the rooms one may see; read-only."""

from __future__ import annotations

from tests.server_stub.conftest import World
from tests.server_stub.dashboard.helpers import sign_in


def test_policy_page_shows_version_objectives_and_resources(sqlite_world: World) -> None:
    c = sqlite_world.client
    sign_in(c, "alice")
    html = c.get("/policy").text
    assert "<code>v1</code>" in html
    assert "Space &lt;b&gt;science&lt;/b&gt;" in html and "https://www.nasa.gov/" in html
    assert "Lab 3A" in html and "Lab 9Z" not in html
    assert c.post("/policy").status_code == 405
    sign_in(c, "it")
    assert "Lab 9Z" in c.get("/policy").text
