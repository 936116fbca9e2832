"""The agent imports several modules by name at run time (`importlib.import_module`: the
enforcement backends, the panel) and reads its UI's static files from disk; keyring finds its
backends, ours included, through entry points in the installed distributions' metadata.
PyInstaller sees none of that by itself."""

from PyInstaller.utils.hooks import (
    collect_data_files,
    collect_submodules,
    copy_metadata,
    is_module_satisfies,
)

# The service bundle leaves the panel (Qt, pywebview) to the separate panel bundle.
_PANEL_ONLY = ("agent.ui.panel",)

hiddenimports = [name for name in collect_submodules("agent") if not name.startswith(_PANEL_ONLY)]
datas = collect_data_files("agent.ui", includes=["static/*"])

# Entry points (console scripts today; keyring.backends once the device-token store lands).
datas += copy_metadata("lessongate")

if is_module_satisfies("keyring"):
    # PyInstaller's own keyring hook then collects keyring.backends and keyring's metadata.
    hiddenimports.append("keyring")
