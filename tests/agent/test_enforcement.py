"""agent.enforcement: the config turned into EnforceSettings, process events, the disabled flag."""

from __future__ import annotations

from pathlib import Path

from agent.config import AgentConfig
from agent.enforce.processes import ProcessEvent
from agent.enforcement import (
    clear_disabled,
    disabled_file,
    disabled_since,
    enforce_settings,
    mark_disabled,
    process_report,
    server_addresses,
)


def test_settings_carry_every_enforcement_key(tmp_path: Path) -> None:
    cfg = AgentConfig(
        state_dir=tmp_path,
        policy_dir=tmp_path,
        enforce=True,
        proxy_port=3999,
        ui_port=8765,
        resolvers=("192.0.2.53",),
        exemptions=("198.51.100.0/24",),
        agent_user="nobody",
        server_url="https://203.0.113.5:8443",
        disable_code_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
    )
    settings, note = enforce_settings(cfg, code_hash="$argon2id$from-policy")
    assert note is None
    assert (settings.enforce, settings.proxy_port, settings.ui_port) == (True, 3999, 8765)
    assert settings.resolvers == ("192.0.2.53",)
    assert settings.exemptions == ("198.51.100.0/24",)
    assert settings.agent_uid == 65534
    assert settings.server_addresses == ("203.0.113.5",)
    assert settings.disable_code_hash == cfg.disable_code_hash  # the config's wins
    assert settings.state_dir == tmp_path


def test_the_policys_code_hash_fills_in_and_ui_port_zero_means_none(tmp_path: Path) -> None:
    cfg = AgentConfig(state_dir=tmp_path, policy_dir=tmp_path, ui_port=0)
    settings, _ = enforce_settings(cfg, code_hash="$argon2id$from-policy", resolve_server=False)
    assert settings.disable_code_hash == "$argon2id$from-policy" and settings.ui_port is None


def test_server_addresses_from_names_and_literals() -> None:
    assert server_addresses(None) == ((), None)
    assert server_addresses("http://[2001:db8::5]/") == (("2001:db8::5",), None)
    assert "127.0.0.1" in server_addresses("http://localhost:8080")[0]
    addresses, note = server_addresses("https://lessongate.invalid")
    assert addresses == () and note is not None and "lessongate.invalid" in note


def test_process_events_become_reports() -> None:
    kind, data = process_report(
        ProcessEvent(7, "psiphon3", "/tmp/psiphon3", 1000, "psiphon*", "ended")
    )
    assert kind == "process_ended"
    assert data == {
        "name": "psiphon3",
        "exe": "/tmp/psiphon3",
        "rule": "psiphon*",
        "uid": 1000,
        "pid": 7,
    }
    assert process_report(ProcessEvent(7, "tor", "", 1000, "tor", "reported"))[0] == "process_seen"


def test_disabled_flag_round_trip_and_damage_still_counts(tmp_path: Path) -> None:
    assert disabled_since(tmp_path) is None
    mark_disabled(tmp_path, 1234.0, "cli:uid=0")
    assert disabled_since(tmp_path) == {"at": 1234.0, "by": "cli:uid=0"}
    disabled_file(tmp_path).write_text("{garbage")
    damaged = disabled_since(tmp_path)
    assert damaged is not None and "problem" in damaged
    assert disabled_file(tmp_path).exists()  # not moved aside: only `enable` ends it
    assert clear_disabled(tmp_path) and disabled_since(tmp_path) is None
    assert not clear_disabled(tmp_path)
