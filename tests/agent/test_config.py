from __future__ import annotations

from pathlib import Path

import pytest

import policies
from agent.config import ENV_VAR, ConfigError, load_config


def test_defaults_are_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    cfg = load_config()
    assert cfg.enforce is False
    assert cfg.device_id == "demo-device"
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
