from __future__ import annotations

import socket
from pathlib import Path

import pytest

import policies
from agent.config import ENV_VAR, ConfigError, load_config


def test_defaults_are_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    cfg = load_config()
    assert cfg.enforce is False
    assert cfg.device_id == socket.gethostname()
    assert cfg.policy_dir == policies.DEFAULT_POLICY_DIR


def test_file_from_env_with_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text('state_dir = "state"\ndevice_id = "pc-7"\nui_port = 8765\nroom = "lab-3a"\n')
    monkeypatch.setenv(ENV_VAR, str(conf))
    cfg = load_config()
    assert cfg.state_dir == tmp_path / "state"
    assert cfg.device_id == "pc-7"
    assert cfg.ui_port == 8765
    assert cfg.room == "lab-3a"
    assert cfg.control_socket == tmp_path / "state" / "control.sock"
    assert cfg.teachers_file == tmp_path / "state" / "teachers.toml"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("enforce = 1\n", "'enforce'"),
        ("ui_port = 70000\n", "'ui_port'"),
        ("device_id = ''\n", "'device_id'"),
        ("enforse = true\n", "unknown key 'enforse'"),
        ("state_dir = \n", "not valid TOML"),
        ('resolvers = "192.0.2.53"\n', "'resolvers': must be an array"),
        ('resolvers = ["dns.example"]\n', "'resolvers'[0]: 'dns.example' is not"),
        ('exemptions = ["203.0.113.0/33"]\n', "'exemptions'[0]"),
        ('agent_user = "no-such-user-lg"\n', "no system user 'no-such-user-lg'"),
        ('disable_code_hash = "2468"\n', "must be an argon2id hash"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(conf)
    assert str(conf) in str(e.value)
    assert needle in str(e.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the agent config"):
        load_config(tmp_path / "nope.toml")


def test_enforcement_keys(tmp_path: Path) -> None:
    from argon2 import PasswordHasher

    from agent.enforce.settings import EnforceSettings

    digest = PasswordHasher().hash("it-code")
    conf = tmp_path / "agent.toml"
    conf.write_text(
        'resolvers = ["192.0.2.53", "2001:db8::53"]\nexemptions = ["203.0.113.0/24", "192.0.2.7"]\n'
        f'agent_user = "nobody"\ndisable_code_hash = "{digest}"\n'
    )
    cfg = load_config(conf)
    assert cfg.resolvers == ("192.0.2.53", "2001:db8::53")
    assert cfg.exemptions == ("203.0.113.0/24", "192.0.2.7/32")
    assert (cfg.agent_user, cfg.agent_uid()) == ("nobody", 65534)
    assert cfg.disable_code_hash == digest
    # One proxy port for the config and the enforcement backends.
    assert load_config(tmp_path / "agent.toml").proxy_port == EnforceSettings().proxy_port == 3129


def test_agent_user_defaults_to_root_only_without_the_installers_user(tmp_path: Path) -> None:
    import pwd

    cfg = load_config(None)
    try:
        expected = pwd.getpwnam("lessongate").pw_uid
    except KeyError:
        expected = 0  # the tests run as root
    assert cfg.agent_user is None and cfg.agent_uid() == expected


def test_a_code_written_in_place_of_its_hash_is_not_echoed(tmp_path: Path) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text('disable_code_hash = "it-secret-2468"\n')
    with pytest.raises(ConfigError) as e:
        load_config(conf)
    assert "it-secret-2468" not in str(e.value)


def test_the_e2e_minutes_hook_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.config import TEST_MINUTES_ENV

    monkeypatch.delenv(TEST_MINUTES_ENV, raising=False)
    assert load_config(None).seconds_per_minute == 60
    monkeypatch.setenv(TEST_MINUTES_ENV, "1")
    assert load_config(None).seconds_per_minute == 1
