"""load_policy: a complete policy or every problem, each named by file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import DEFAULT_POLICY_DIR
from policies.errors import PolicyError, PolicyIssue
from policies.loader import load_policy
from policies.model import MAX_LIST_ENTRIES, BandMode
from tests.policies.policy_dirs import DISTRICT, ROOMS, SCIENCE, line_of, write_policy


def problems(directory: Path) -> list[PolicyIssue]:
    with pytest.raises(PolicyError) as caught:
        load_policy(directory)
    assert caught.value.issues, "a PolicyError must name at least one problem"
    return caught.value.issues


def only_problem(directory: Path) -> PolicyIssue:
    issues = problems(directory)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


# --- valid policies ---------------------------------------------------------------------------


def test_minimal_policy_loads_completely(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))

    assert policy.district.name == "Test District"
    assert [b.id for b in policy.district.bands] == ["K-2", "3-5"]
    band = policy.district.band("K-2")
    assert band is not None and band.mode is BandMode.SUPERVISED
    assert (band.max_session_minutes, band.default_session_minutes) == (45, 30)
    assert policy.room_for_device("demo-device") == policy.room("lab-3a")
    assert [o.id for o in policy.objectives_for_room("lab-3a")] == ["NGSS.3-LS1-1"]
    objective = policy.objective("NGSS.3-LS1-1")
    assert objective is not None and objective.resources[0].assets == ("i.natgeofe.com",)


def test_version_depends_on_content_only(tmp_path: Path) -> None:
    first = load_policy(write_policy(tmp_path / "a"))
    again = load_policy(write_policy(tmp_path / "b"))
    assert first.version == again.version
    assert len(first.version) == 16

    changed = load_policy(write_policy(tmp_path / "c", {"rooms.toml": ROOMS + "# edited\n"}))
    assert changed.version != first.version


def test_objectives_from_several_files_are_merged(tmp_path: Path) -> None:
    math = SCIENCE.replace("NGSS.3-LS1-1", "CCSS.MATH.3.NF.A.1").replace(
        "NGSS.K-ESS2-1", "CCSS.MATH.K.CC.B.4"
    )
    policy = load_policy(write_policy(tmp_path, {"objectives/math.toml": math}))
    assert {o.id for o in policy.objectives_for_room("lab-3a")} == {
        "NGSS.3-LS1-1",
        "CCSS.MATH.3.NF.A.1",
    }


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    directory = write_policy(tmp_path, {"rooms.toml": b"\xef\xbb\xbf" + ROOMS.encode()})
    assert load_policy(directory).room("lab-3a") is not None


# --- the bundled district policy ----------------------------------------------------------------


def test_default_policy_loads_with_a_real_catalogue() -> None:
    policy = load_policy(DEFAULT_POLICY_DIR)

    assert len(policy.objectives) >= 12
    for objective in policy.objectives:
        for resource in objective.resources:
            assert resource.url.startswith("https://"), resource.url
    subjects = {o.subject for o in policy.objectives}
    assert {"Science", "Mathematics", "Reading", "Computer Science"} <= subjects


def test_default_policy_follows_the_aup() -> None:
    district = load_policy(DEFAULT_POLICY_DIR).district

    modes = {b.id: b.mode for b in district.bands}
    assert modes["K-2"] is BandMode.SUPERVISED
    assert modes["3-5"] is BandMode.SUPERVISED
    assert modes["6-8"] is BandMode.FILTERED
    assert modes["9-12"] in (BandMode.FILTERED, BandMode.OPEN)
    assert district.aup_renewal_grades == (3, 6, 9)
    for locked in ("translate.google.com", "webcache.googleusercontent.com", "dns.google"):
        assert locked in district.never_allow


def test_default_policy_has_the_demo_room() -> None:
    policy = load_policy(DEFAULT_POLICY_DIR)

    room = policy.room_for_device("demo-device")
    assert room is not None and room.id == "lab-3a" and room.band == "3-5"
    assert len(policy.objectives_for_room("lab-3a")) >= 10


# --- one problem at a time: file, line, key, and what to do ---------------------------------------


def test_unknown_key_names_line_key_and_suggests_the_right_one(tmp_path: Path) -> None:
    science = SCIENCE.replace('  assets = ["i.natgeofe.com"]', '  asset = ["i.natgeofe.com"]')
    issue = only_problem(write_policy(tmp_path, {"objectives/science.toml": science}))

    assert issue.file == "objectives/science.toml"
    assert issue.line == line_of(science, "asset =")
    assert issue.key == "objective[0].resources[0].asset"
    assert "unknown key 'asset'" in issue.message
    assert "assets" in issue.hint


def test_wrong_type_is_not_coerced(tmp_path: Path) -> None:
    district = DISTRICT.replace("max_session_minutes = 45", 'max_session_minutes = "45"')
    issue = only_problem(write_policy(tmp_path, {"district.toml": district}))

    assert (issue.file, issue.line) == ("district.toml", line_of(district, '"45"'))
    assert issue.key == "band[0].max_session_minutes"
    assert "whole number" in issue.message


def test_date_value_is_named_as_such(tmp_path: Path) -> None:
    district = DISTRICT.replace('name = "Test District"', "name = 2024-09-01")
    issue = only_problem(write_policy(tmp_path, {"district.toml": district}))

    assert (issue.line, issue.key) == (1, "name")
    assert "date" in issue.message


def test_missing_required_key_points_at_its_table(tmp_path: Path) -> None:
    science = SCIENCE.replace('subject = "Science"\n', "", 1)
    issue = only_problem(write_policy(tmp_path, {"objectives/science.toml": science}))

    assert issue.key == "objective[0].subject"
    assert issue.line == 1  # the [[objective]] header
    assert "missing" in issue.message


def test_bad_enum_lists_the_choices(tmp_path: Path) -> None:
    district = DISTRICT.replace('mode = "supervised"', 'mode = "closed"', 1)
    issue = only_problem(write_policy(tmp_path, {"district.toml": district}))

    assert issue.key == "band[0].mode"
    assert "'supervised'" in issue.hint and "'filtered'" in issue.hint


def test_single_bracket_table_gets_a_hint(tmp_path: Path) -> None:
    rooms = ROOMS.replace("[[room]]", "[room]", 1).split("[[room]]")[0]
    issue = only_problem(write_policy(tmp_path, {"rooms.toml": rooms}))

    assert (issue.file, issue.key) == ("rooms.toml", "room")
    assert "[[room]]" in issue.message


def test_duplicate_room_ids(tmp_path: Path) -> None:
    rooms = ROOMS.replace('id = "kinder-1"', 'id = "lab-3a"')
    issue = only_problem(write_policy(tmp_path, {"rooms.toml": rooms}))

    assert issue.line == line_of(rooms, 'id = "lab-3a"') + 7
    assert issue.key == "room[1].id"
    assert "defined twice" in issue.message and "rooms.toml:1" in issue.message


def test_duplicate_objective_ids_across_files_name_both(tmp_path: Path) -> None:
    first_objective = "[[objective]]" + SCIENCE.split("[[objective]]")[1]
    issue = only_problem(write_policy(tmp_path, {"objectives/more.toml": first_objective}))

    # more.toml is read first, so the copy in science.toml is the duplicate.
    assert (issue.file, issue.line, issue.key) == ("objectives/science.toml", 2, "objective[0].id")
    assert "objectives/more.toml:1" in issue.message


def test_device_in_two_rooms(tmp_path: Path) -> None:
    rooms = ROOMS.replace('devices = ["k1-01"]', 'devices = ["k1-01", "lab3a-01"]')
    issue = only_problem(write_policy(tmp_path, {"rooms.toml": rooms}))

    assert issue.key == "room[1].devices[1]"
    assert issue.line == line_of(rooms, '"k1-01", "lab3a-01"')
    assert "lab-3a" in issue.message


def test_room_with_unknown_band(tmp_path: Path) -> None:
    rooms = ROOMS.replace('band = "K-2"', 'band = "6-8"')
    issue = only_problem(write_policy(tmp_path, {"rooms.toml": rooms}))

    assert (issue.key, issue.line) == ("room[1].band", line_of(rooms, 'band = "6-8"'))
    assert "'6-8' is not defined in district.toml" in issue.message
    assert "3-5" in issue.hint and "K-2" in issue.hint


def test_objective_with_unknown_band_and_room(tmp_path: Path) -> None:
    science = SCIENCE.replace(
        'band = "K-2"\nsubject = "Science"', 'band = "1-2"\nsubject = "Science"\nrooms = ["lab-9"]'
    )
    issues = problems(write_policy(tmp_path, {"objectives/science.toml": science}))

    assert [(i.key, i.line) for i in issues] == [
        ("objective[1].band", line_of(science, 'band = "1-2"')),
        ("objective[1].rooms[0]", line_of(science, "rooms = ")),
        ("objective[1].resources[0].bands", line_of(science, "bands = ")),
    ]
    assert "room 'lab-9' is not defined in rooms.toml" in issues[1].message


def test_objective_offered_in_a_room_of_another_band(tmp_path: Path) -> None:
    science = SCIENCE.replace('subject = "Science"', 'subject = "Science"\nrooms = ["kinder-1"]', 1)
    issue = only_problem(write_policy(tmp_path, {"objectives/science.toml": science}))

    assert issue.key == "objective[0].rooms[0]"
    assert "never be offered" in issue.message


def test_resource_outside_its_objective_band(tmp_path: Path) -> None:
    science = SCIENCE.replace('bands = ["K-2", "3-5"]', 'bands = ["3-5"]')
    issue = only_problem(write_policy(tmp_path, {"objectives/science.toml": science}))

    assert issue.key == "objective[1].resources[0].bands"
    assert issue.line == line_of(science, 'bands = ["3-5"]')
    assert "K-2" in issue.message and '"K-2"' in issue.hint


def test_default_session_longer_than_max(tmp_path: Path) -> None:
    district = DISTRICT.replace("default_session_minutes = 30", "default_session_minutes = 50")
    issue = only_problem(write_policy(tmp_path, {"district.toml": district}))

    assert issue.key == "band[0].default_session_minutes"
    assert "max_session_minutes (45)" in issue.message


def test_resource_url_must_be_a_full_link(tmp_path: Path) -> None:
    science = SCIENCE.replace(
        'url = "https://scijinks.gov/clouds/"', 'url = "scijinks.gov/clouds/"'
    )
    issue = only_problem(write_policy(tmp_path, {"objectives/science.toml": science}))

    assert issue.key == "objective[1].resources[0].url"
    assert "not a full http(s) URL" in issue.message
    assert "https://" in issue.hint


@pytest.mark.parametrize(
    ("pattern", "hint_part"),
    [
        ("*.example.com", "example.com"),
        ("*://example.com", "example.com"),
        ("https://", ""),
        ("example.com:99999", "port"),
    ],
)
@pytest.mark.parametrize("where", ["always_allow", "never_allow", "blocklist", "assets"])
def test_invalid_patterns_are_located_with_a_fix(
    tmp_path: Path, pattern: str, hint_part: str, where: str
) -> None:
    files: dict[str, str | bytes | None] = {}
    if where == "assets":
        text = SCIENCE.replace('"i.natgeofe.com"', f'"i.natgeofe.com", "{pattern}"')
        files["objectives/science.toml"] = text
        expected = ("objectives/science.toml", "objective[0].resources[0].assets[1]")
    else:
        text = DISTRICT.replace(f"{where} = [", f'{where} = ["{pattern}", ')
        files["district.toml"] = text
        expected = ("district.toml", f"{where}[0]")
    issue = only_problem(write_policy(tmp_path, files))

    assert (issue.file, issue.key) == expected
    assert issue.line == line_of(text, f'"{pattern}"')
    assert repr(pattern) in issue.message and "not a valid pattern" in issue.message
    assert issue.hint
    assert hint_part in issue.hint + issue.message


def test_oversized_always_allow(tmp_path: Path) -> None:
    hosts = ", ".join(f'"h{n}.example"' for n in range(MAX_LIST_ENTRIES + 1))
    district = DISTRICT.replace(
        'always_allow = ["accounts.google.com"]', f"always_allow = [{hosts}]"
    )
    issues = problems(write_policy(tmp_path, {"district.toml": district}))

    keys = [i.key for i in issues]
    assert "always_allow" in keys  # the list itself, and each objective that adds to it
    assert str(MAX_LIST_ENTRIES) in issues[keys.index("always_allow")].message


def test_objective_too_big_for_a_browser_policy(tmp_path: Path) -> None:
    assets = ", ".join(f'"cdn{n}.example"' for n in range(MAX_LIST_ENTRIES))
    science = SCIENCE.replace('assets = ["i.natgeofe.com"]', f"assets = [{assets}]")
    issue = only_problem(write_policy(tmp_path, {"objectives/science.toml": science}))

    assert (issue.key, issue.line) == ("objective[0]", 1)
    assert "browsers accept at most 1000" in issue.message


# --- files that cannot be read -------------------------------------------------------------


def test_oversized_file(tmp_path: Path) -> None:
    huge = SCIENCE + "#" * (1 << 20) + "\n"
    issue = only_problem(write_policy(tmp_path, {"objectives/science.toml": huge}))

    assert issue.file == "objectives/science.toml"
    assert "larger than 1024 KiB" in issue.message


def test_non_utf8_file_names_byte_offset_and_line(tmp_path: Path) -> None:
    raw = (
        ROOMS.replace("Elm Elementary", "Ecole Elementaire", 1)
        .encode()
        .replace(b"Ecole", b"\xc9cole")
    )
    issue = only_problem(write_policy(tmp_path, {"rooms.toml": raw}))

    assert (issue.file, issue.line) == ("rooms.toml", line_of(ROOMS, "school"))
    offset = raw.index(b"\xc9")
    assert f"byte offset {offset}" in issue.message
    assert "UTF-8" in issue.hint


def test_malformed_toml_does_not_hide_other_files(tmp_path: Path) -> None:
    rooms = ROOMS.replace('name = "Room 3A Computer Lab"', 'name = "Room 3A Computer Lab')
    district = DISTRICT.replace('mode = "supervised"', 'mode = "closed"', 1)
    issues = problems(write_policy(tmp_path, {"rooms.toml": rooms, "district.toml": district}))

    assert [(i.file, i.line) for i in issues] == [
        ("district.toml", line_of(district, "closed")),
        ("rooms.toml", line_of(rooms, "Room 3A")),
    ]
    assert "not valid TOML" in issues[1].message


@pytest.mark.parametrize("missing", ["district.toml", "rooms.toml"])
def test_missing_file(tmp_path: Path, missing: str) -> None:
    issue = only_problem(write_policy(tmp_path, {missing: None}))

    assert (issue.file, issue.line) == (missing, None)
    assert "missing" in issue.message and issue.hint


def test_missing_objectives_folder(tmp_path: Path) -> None:
    issue = only_problem(write_policy(tmp_path, {"objectives/science.toml": None}))
    assert (issue.file, issue.message) == ("objectives", "folder is missing")


def test_empty_objectives_folder(tmp_path: Path) -> None:
    directory = write_policy(tmp_path, {"objectives/science.toml": None})
    (directory / "objectives").mkdir()
    (directory / "objectives" / "README.md").write_text("not a policy file\n")
    issue = only_problem(directory)
    assert "no .toml files" in issue.message


def test_not_a_directory(tmp_path: Path) -> None:
    issue = only_problem(tmp_path / "nowhere")
    assert "nowhere is not a directory" in issue.message


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    district = DISTRICT.replace('"translate.google.com"', '"*.translate.google.com"').replace(
        "default_session_minutes = 30", "default_session_minutes = 90"
    )
    rooms = ROOMS.replace('band = "K-2"', 'band = "k-2"')
    science = SCIENCE.replace('title = "Clouds"', 'title = "Clouds"\n  colour = "blue"')
    directory = write_policy(
        tmp_path,
        {
            "district.toml": district,
            "rooms.toml": rooms,
            "objectives/science.toml": science,
            "objectives/broken.toml": "[[objective]\n",
        },
    )
    issues = problems(directory)

    assert [(i.file, i.key) for i in issues] == [
        ("district.toml", "never_allow[0]"),
        ("district.toml", "band[0].default_session_minutes"),
        ("rooms.toml", "room[1].band"),
        ("objectives/broken.toml", ""),
        ("objectives/science.toml", "objective[1].resources[0].colour"),
    ]
    assert all(i.line is not None for i in issues)


def test_same_failure_from_another_directory_names_the_same_files(tmp_path: Path) -> None:
    source = write_policy(tmp_path / "a", {"rooms.toml": None})
    copy = tmp_path / "b"
    shutil.copytree(source, copy)
    assert problems(source) == problems(copy)


# --- nothing but PolicyError, whatever the bytes -------------------------------------------


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["district.toml", "rooms.toml", "objectives/science.toml"]),
    garbage=st.binary(max_size=300),
)
def test_random_bytes_give_policy_error(tmp_path: Path, name: str, garbage: bytes) -> None:
    directory = write_policy(tmp_path)
    (directory / name).write_bytes(garbage)
    with pytest.raises(PolicyError):
        load_policy(directory)


def test_deeply_nested_values_are_an_error_not_a_crash(tmp_path: Path) -> None:
    for depth in (300, 5000):
        nested = "[" * depth + "]" * depth
        science = SCIENCE.replace('assets = ["i.natgeofe.com"]', f"assets = {nested}")
        issues = problems(write_policy(tmp_path / str(depth), {"objectives/science.toml": science}))
        assert [i.file for i in issues] == ["objectives/science.toml"]
        assert "too deeply" in issues[0].message


_TOML_PIECES = st.sampled_from(
    [
        "[[objective]]\n", "[[objective.resources]]\n", "[objective]\n", "[[room]]\n", "id = ",
        "url = ", "assets = [", "]", "bands = ", '"3-5"', '"https://x.example/"', '"*.x.com"',
        "'lit'", '"""multi\nline"""', "1979-05-27", "nan", "-inf", "12", "1e400", "true",
        "{ a = 1 }", ",", "\n", " ", "#c\n", "=", ".", "[", "{", "}", "\\", '"', "\x00", "\ufeff",
        "é", "title = \"t\"\n", "subject = \"s\"\n", "band = \"3-5\"\n", "a.b.c = 1\n",
    ]
)  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(_TOML_PIECES, max_size=40))
def test_toml_like_garbage_gives_policy_or_policy_error(tmp_path: Path, pieces: list[str]) -> None:
    directory = write_policy(tmp_path)
    (directory / "objectives" / "science.toml").write_text("".join(pieces), encoding="utf-8")
    try:
        policy = load_policy(directory)
    except PolicyError as exc:
        assert all(isinstance(issue, PolicyIssue) for issue in exc.issues)
    else:
        assert policy.objectives


# --- device-side settings: denied programs and the IT disable code --------------------------


def test_denied_processes_and_disable_code_hash_load(tmp_path: Path) -> None:
    from argon2 import PasswordHasher

    digest = PasswordHasher().hash("IT code")
    district = DISTRICT.replace(
        'blocklist = ["games.example"]',
        'blocklist = ["games.example"]\n'
        'denied_processes = ["tor", "psiphon*", "/opt/*/openvpn", "*/FirefoxPortable/*"]\n'
        f'disable_code_hash = "{digest}"',
    )
    policy = load_policy(write_policy(tmp_path, {"district.toml": district}))
    assert policy.district.denied_processes == (
        "tor",
        "psiphon*",
        "/opt/*/openvpn",
        "*/FirefoxPortable/*",
    )
    assert policy.district.disable_code_hash == digest


def test_a_bare_code_is_not_accepted_as_a_disable_code_hash(tmp_path: Path) -> None:
    district = DISTRICT.replace(
        'blocklist = ["games.example"]', 'blocklist = ["games.example"]\ndisable_code_hash = "1234"'
    )
    issue = only_problem(write_policy(tmp_path, {"district.toml": district}))
    assert (issue.file, issue.key) == ("district.toml", "disable_code_hash")
    assert issue.line == line_of(district, "disable_code_hash")
    assert "not an argon2id hash" in issue.message and "hash-code" in issue.hint


@pytest.mark.parametrize("rule", ["", "tor/browser", " tor", "relative/path/*"])
def test_a_denied_process_must_be_a_name_or_an_absolute_path(tmp_path: Path, rule: str) -> None:
    district = DISTRICT.replace(
        'blocklist = ["games.example"]',
        f'blocklist = ["games.example"]\ndenied_processes = ["tor", "{rule}"]',
    )
    issue = only_problem(write_policy(tmp_path, {"district.toml": district}))
    assert issue.key == "denied_processes[1]"
    assert issue.message and issue.hint


def test_default_policy_ends_circumvention_tools_and_has_no_disable_code() -> None:
    district = load_policy(DEFAULT_POLICY_DIR).district
    for name in ("tor", "openvpn*", "wireguard*", "psiphon*", "ultrasurf*"):
        assert name in district.denied_processes
    # A hash shipped in the public default policy would make the code public knowledge.
    assert district.disable_code_hash is None
