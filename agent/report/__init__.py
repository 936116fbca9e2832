"""The agent's client for the central server (issue 6).

enrollment   trade an enrollment token for a device id, token and the pinned signing key
credentials  where the device token lives (keyring, or a root-only file backend)
http         the HTTP client; every failure becomes one of the errors in `errors`
outbox       SQLite outbox: every event is stored before delivery, delivered in order
wire         what an event looks like on the wire (the server's event schema)
heartbeat    the heartbeat body: device state, never URLs
policy_sync  verify a signed bundle against the pinned key; keep the last good one
pins         teacher PIN: online check (2 s), else the verifiers the server shipped
commands     remote start/end/extend through the session machine, cursor on disk
client       the asyncio loops that tie it together, and the `server` status section
wiring       how `lessongate-agent run` plugs all of it into AgentService
"""
