"""`lessongate-agent report-uninstalled`: tell the server this device is being removed.

Called by the packages' removal scripts (Debian prerm, the NSIS uninstaller, macOS uninstall.sh)
before the files go. Best effort and bounded: a server that does not answer within the timeout
never holds up the removal, and the event is not queued anywhere, since the outbox goes too.
"""

from __future__ import annotations

import socket
import sys

import policies
from agent.config import AgentConfig
from agent.events import Event
from agent.report.enrollment import EnrollmentStore
from agent.report.errors import ServerError
from agent.report.http import ServerClient
from agent.report.wire import to_wire

TIMEOUT_SECONDS = 15.0


def report_uninstalled(cfg: AgentConfig, timeout: float = TIMEOUT_SECONDS) -> int:
    """0 when the server has the event (or there is no server to tell), 1 when it could not."""
    store = EnrollmentStore(cfg.state_dir)
    enrollment = store.load()
    token = store.token(enrollment) if enrollment is not None else None
    if enrollment is None or token is None:
        print("not enrolled: no server to tell")
        return 0
    event = Event.new(
        "uninstalled", {"agent_version": policies.__version__, "hostname": socket.gethostname()}
    )
    client = ServerClient(enrollment.server_url, token, ca_bundle=cfg.ca_bundle, timeout=timeout)
    try:
        client.post_events([to_wire(event, seq=0)])
    except ServerError as e:
        print(f"could not tell {enrollment.server_url}: {e}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"told {enrollment.server_url} that device {enrollment.device_id} is uninstalled")
    return 0
