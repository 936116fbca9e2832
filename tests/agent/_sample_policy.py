"""A small policy built in code, so the session tests control every rule they rely on."""

from __future__ import annotations

from policies.model import BandMode, District, GradeBand, Objective, Policy, Resource, Room


def objective(oid: str, band: str = "3-5", url: str = "https://spaceplace.nasa.gov/") -> Objective:
    return Objective(
        id=oid,
        title=f"Objective {oid}",
        band=band,
        subject="Science",
        resources=(Resource(title=f"Site for {oid}", url=url),),
    )


def sample_policy(
    objectives: tuple[Objective, ...] | None = None, max_minutes: int = 60, version: str = "v1"
) -> Policy:
    if objectives is None:
        objectives = (
            objective("sci-3-moon", url="https://spaceplace.nasa.gov/moon"),
            objective("sci-3-plants", url="https://plants.example.org/"),
            objective("sci-k-colors", band="K-2", url="https://colors.example.org/"),
        )
    return Policy(
        district=District(
            name="Test District",
            bands=(
                GradeBand(
                    id="K-2",
                    mode=BandMode.SUPERVISED,
                    max_session_minutes=30,
                    default_session_minutes=20,
                ),
                GradeBand(
                    id="3-5",
                    mode=BandMode.SUPERVISED,
                    max_session_minutes=max_minutes,
                    default_session_minutes=min(40, max_minutes),
                ),
            ),
            always_allow=("https://lms.district.example/",),
            never_allow=("badsite.example.com", "https://spaceplace.nasa.gov/forum"),
        ),
        rooms=(
            Room(id="lab-3a", name="Lab 3A", school="Elm", band="3-5", devices=("demo-device",)),
            Room(id="k-room", name="K Room", school="Elm", band="K-2", devices=("k-pc",)),
        ),
        objectives=objectives,
        version=version,
    )
