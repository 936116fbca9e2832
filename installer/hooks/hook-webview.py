"""pywebview picks its GUI backend at run time (`webview.guilib`, by name), so PyInstaller
does not see it. Only the panel bundle uses pywebview: Qt on Linux, the native web views on
Windows (EdgeChromium / WinForms) and macOS (Cocoa). This hook replaces pywebview's own (one
hook per module runs, ours first), so it also carries what that one adds: pywebview's
JavaScript, and on Windows the WebView2 DLLs."""

import sys

from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs

datas = collect_data_files("webview", subdir="js")
binaries = []
if sys.platform.startswith("linux"):
    hiddenimports = ["webview.platforms.qt", "qtpy", "PySide6.QtWebEngineWidgets"]
elif sys.platform == "win32":
    hiddenimports = ["webview.platforms.edgechromium", "webview.platforms.winforms", "clr"]
    datas += collect_data_files("webview", subdir="lib")
    binaries = collect_dynamic_libs("webview")
elif sys.platform == "darwin":
    hiddenimports = ["webview.platforms.cocoa"]
else:
    hiddenimports = []
