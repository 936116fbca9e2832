"""How `lessongate-agent run` plugs the server client into AgentService.

Every event goes to the local JSON-lines log (the device's own record) and to the outbox (the
server's copy); the teacher PIN chain starts with the server's check; the last good signed bundle
is the policy at start; the client's loops run on the agent's loop; `status` gets a `server`
section.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from agent.config import AgentConfig
from agent.events import EventSink, JsonLinesLog
from agent.report.client import ReportClient
from agent.report.enrollment import EnrollmentStore
from agent.report.outbox import Outbox
from agent.state_store import ensure_private_dir
from policies.model import Policy

if TYPE_CHECKING:
    from agent.report.pins import ServerVerifiers
    from agent.service import AgentService

OUTBOX_FILE = "outbox.sqlite3"


@dataclass
class Reporting:
    config: AgentConfig
    client: ReportClient
    outbox: Outbox

    @classmethod
    def build(cls, cfg: AgentConfig) -> Reporting:
        ensure_private_dir(cfg.state_dir)
        outbox = Outbox(cfg.state_dir / OUTBOX_FILE)
        client = ReportClient(cfg, EnrollmentStore(cfg.state_dir), outbox)
        enrolled = client.enrollment
        if cfg.room is None and enrolled is not None and enrolled.room_id:
            cfg = replace(cfg, room=enrolled.room_id)
        return cls(cfg, client, outbox)

    @property
    def sinks(self) -> list[EventSink]:
        return [JsonLinesLog(self.config.state_dir / "events.jsonl"), self.outbox]

    @property
    def verifier(self) -> ServerVerifiers:
        return self.client.verifiers

    def initial_policy(self) -> tuple[Policy, str] | None:
        """Called by AgentService.startup: the kept bundle, verified again, and its room; or
        None."""
        keeper, service = self.client.keeper, self.client.service
        if keeper is None:
            return None
        policy = keeper.load_last_good()
        if keeper.problem and service is not None:
            service.report("policy_rejected", {"version": None, "reason": keeper.problem})
        return None if policy is None or keeper.room is None else (policy, keeper.room)

    def attach(self, service: AgentService) -> None:
        self.client.attach(service)
        service.status_sections["server"] = self.client.status
        service.background.append(self.client.run)
