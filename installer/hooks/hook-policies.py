"""The district's default policy (policies/default/*.toml) is read from disk at run time:
bundle it so `policies.DEFAULT_POLICY_DIR` exists inside the build."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("policies", includes=["default/*.toml", "default/**/*.toml"])
