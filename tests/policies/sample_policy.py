"""A small policy built in code, for tests that need one without the TOML loader."""

from __future__ import annotations

from policies.model import (
    BandMode,
    District,
    GradeBand,
    Objective,
    Policy,
    Resource,
    Room,
)


def sample_policy(*, version: str = "v1", drop_objective: str | None = None) -> Policy:
    objectives = (
        Objective(
            id="NGSS.3-ESS2-1",
            title="Weather patterns",
            band="3-5",
            subject="Science",
            resources=(
                Resource(
                    title="SciJinks weather",
                    url="https://scijinks.gov/weather/",
                    assets=("cdn.scijinks.test",),
                ),
            ),
        ),
        Objective(
            id="CSTA.1B-AP-10",
            title="Loops",
            band="3-5",
            subject="Computer science",
            resources=(Resource(title="Code.org", url="https://code.org/learn"),),
        ),
        Objective(
            id="K-ONLY",
            title="Letters",
            band="K-2",
            subject="Reading",
            resources=(Resource(title="Starfall", url="https://www.starfall.com/h/"),),
        ),
    )
    return Policy(
        district=District(
            name="Test district",
            bands=(
                GradeBand(id="K-2", mode=BandMode.SUPERVISED, max_session_minutes=45),
                GradeBand(id="3-5", mode=BandMode.SUPERVISED, max_session_minutes=60),
                GradeBand(id="6-8", mode=BandMode.FILTERED),
            ),
            always_allow=("accounts.google.com", "lms.district.test"),
            never_allow=("translate.google.com", "dns.google", "code.org/evil"),
            blocklist=("games.test",),
        ),
        rooms=(
            Room(id="lab-3a", name="Lab 3A", school="Elm", band="3-5", devices=("d1",)),
            Room(id="lab-k", name="Lab K", school="Elm", band="K-2"),
            Room(id="lab-7", name="Lab 7", school="Oak", band="6-8"),
        ),
        objectives=tuple(o for o in objectives if o.id != drop_objective),
        version=version,
    )
