"""Every way talking to the server can fail, mapped once at the HTTP boundary.

    ServerError              anything below; `str()` is fit for `status`
    ├── Unreachable          no answer: DNS, refused, reset, timeout, TLS verification
    ├── ServerFault          an answer that is no good: 5xx, not JSON, wrong shape
    └── Refused              a 4xx: this request will not succeed if retried as is
        └── Unauthorized     401 for the device token: unknown or revoked device

Unreachable and ServerFault are transient (retry with back-off); Refused is permanent for that
request (an event batch is split to find the one event at fault).
"""

from __future__ import annotations


class ServerError(Exception):
    transient = True


class Unreachable(ServerError):
    pass


class ServerFault(ServerError):
    pass


class Refused(ServerError):
    transient = False

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class Unauthorized(Refused):
    pass
