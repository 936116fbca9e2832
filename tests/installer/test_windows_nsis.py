"""The Windows installer script compiles with makensis (NSIS, a Debian package) around a stand-in
for the Windows PyInstaller build; it cannot run here (no Windows)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.installer.throwaway_root import REPO

SCRIPT = REPO / "installer" / "windows" / "lessongate.nsi"


def _compile(tmp_path: Path, *defines: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["makensis", "-WX", "-V2", *defines, str(SCRIPT)],
        cwd=SCRIPT.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compiles_to_a_windows_executable_without_warnings(tmp_path: Path) -> None:
    bundle = tmp_path / "dist" / "lessongate-agent"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "lessongate-agent.exe").write_bytes(b"MZ stand-in")
    (bundle / "_internal" / "base_library.zip").write_bytes(b"PK")
    out = tmp_path / "lessongate-agent-setup.exe"
    done = _compile(tmp_path, f"-DDIST={tmp_path / 'dist'}", "-DVERSION=0.1.0", f"-DOUTFILE={out}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.read_bytes()[:2] == b"MZ"


def test_missing_build_fails_the_compile(tmp_path: Path) -> None:
    out = tmp_path / "setup.exe"
    done = _compile(tmp_path, f"-DDIST={tmp_path / 'nothing'}", f"-DOUTFILE={out}")
    assert done.returncode != 0
    assert not out.exists()


def test_silent_parameters_and_service_recovery_are_wired() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    for option in ("/SERVER=", "/TOKEN=", "/ROOM="):
        assert f'${{GetOptions}} $R0 "{option}"' in text
    assert "obj= LocalSystem" in text and "start= auto" in text
    assert "actions= restart/5000/restart/5000/restart/5000" in text
    assert "sc.exe delete" in text
