#!/bin/sh
# Removes the LessonGate agent from a Mac (run as root; an MDM can push it as a script).
# Tells the server first (best effort, bounded), then stops the daemon and removes its pf anchor,
# browser policies, files and package receipt. UNTESTED on macOS.
set -u
AGENT=/usr/local/lessongate/lessongate-agent/lessongate-agent
CONFIG="/Library/Application Support/LessonGate/agent.toml"

if [ -x "$AGENT" ]; then
    "$AGENT" --config "$CONFIG" report-uninstalled >/dev/null 2>&1 &
    reporter=$!
    i=0
    while kill -0 "$reporter" 2>/dev/null && [ "$i" -lt 15 ]; do
        sleep 1
        i=$((i + 1))
    done
    kill "$reporter" 2>/dev/null || true
fi
launchctl bootout system/org.lessongate.agent 2>/dev/null || true
pfctl -a com.apple/lessongate -F all 2>/dev/null || true
# Names the macOS enforcement backend (not written yet) is to use: pf anchor com.apple/lessongate
# and the configuration profile org.lessongate.browser-policy for Chrome, Edge and Firefox.
profiles remove -identifier org.lessongate.browser-policy >/dev/null 2>&1 || true
rm -f /Library/LaunchDaemons/org.lessongate.agent.plist
rm -rf /usr/local/lessongate "/Library/Application Support/LessonGate" /Library/Logs/LessonGate
pkgutil --forget org.lessongate.agent >/dev/null 2>&1 || true
echo "LessonGate agent removed"
