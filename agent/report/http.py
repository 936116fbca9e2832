"""The HTTP client for the server's device API (`/api/v1`), on urllib3 (what requests is built
on; requests' extras cost the resident agent ~5 MB it does not need).

TLS is always verified: against the system's CAs, or the district's own CA when the config
names a `ca_bundle`. Each method returns the parsed JSON body or raises one of `errors`.
Every call has a timeout; the command long-poll's is the server's wait plus a margin.
The pool is thread-safe; the client's loops each call from their own thread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import HTTPError, SSLError
from urllib3.exceptions import TimeoutError as TimedOut

import policies
from agent.report.errors import Refused, ServerError, ServerFault, Unauthorized, Unreachable

TIMEOUT = 10.0
POLL_MARGIN = 10.0
USER_AGENT = f"lessongate-agent/{policies.__version__}"


class PinAnswer:
    OK = "ok"
    WRONG = "wrong"
    UNAVAILABLE = "unavailable"


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, path: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.path = path


class ServerClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        ca_bundle: Path | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=4,
            cert_reqs="CERT_REQUIRED",
            ca_certs=str(ca_bundle) if ca_bundle else None,
            retries=False,
        )
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.pool.clear()

    # ---- plumbing ------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None = None,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        sent = {**self.headers, **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        try:
            r = self.pool.request(
                method,
                url,
                body=data,
                headers=sent,
                timeout=urllib3.Timeout(total=timeout or self.timeout),
                redirect=False,
                preload_content=True,
            )
        except SSLError as e:
            raise Unreachable(f"TLS verification failed for {self.base_url}: {_short(e)}") from e
        except TimedOut as e:
            raise Unreachable(f"{self.base_url} did not answer in time") from e
        except HTTPError as e:
            raise Unreachable(f"cannot connect to {self.base_url}: {_short(e)}") from e
        except OSError as e:
            raise Unreachable(f"cannot connect to {self.base_url}: {_short(e)}") from e
        answer = Answer(r.status, {k.lower(): v for k, v in r.headers.items()}, r.data, path)
        if r.status >= 500:
            raise ServerFault(f"{method} {path}: server error HTTP {r.status}")
        if r.status == 401 and "www-authenticate" in answer.headers:
            raise Unauthorized(401, _detail(answer))
        if r.status >= 400:
            raise Refused(r.status, _detail(answer))
        return answer

    @staticmethod
    def _json(r: Answer, *fields: str) -> dict[str, Any]:
        try:
            body = json.loads(r.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise ServerFault(f"{r.path}: answer is not JSON") from e
        if not isinstance(body, dict) or any(f not in body for f in fields):
            raise ServerFault(f"{r.path}: answer lacks {', '.join(fields)}")
        return body

    # ---- the device API ----------------------------------------------------------------------

    def enroll(self, token: str, hostname: str, device_name: str, os_name: str) -> dict[str, Any]:
        r = self._send(
            "POST",
            "/api/v1/enroll",
            body={
                "token": token,
                "hostname": hostname[:200] or "unknown",
                "device_name": device_name,
                "agent_version": policies.__version__,
                "os": os_name[:100],
            },
        )
        return self._json(r, "device_id", "device_token", "signing_public_key", "signing_key_id")

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json(self._send("POST", "/api/v1/heartbeat", body=body))

    def post_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        r = self._send("POST", "/api/v1/events", body={"events": events})
        return self._json(r, "accepted", "duplicates")

    def get_policy(self, etag: str | None) -> tuple[str | None, dict[str, Any] | None]:
        """(ETag, body), or (ETag, None) when the bundle has not changed."""
        headers = {"If-None-Match": etag} if etag else {}
        r = self._send("GET", "/api/v1/policy", headers=headers)
        if r.status == 304:
            return etag, None
        return r.headers.get("etag"), self._json(r, "bundle", "signature")

    def poll_commands(self, after: int | None, wait: float) -> dict[str, Any]:
        params: dict[str, Any] = {"wait": wait}
        if after is not None:
            params["after"] = after
        r = self._send("GET", "/api/v1/commands", params=params, timeout=wait + POLL_MARGIN)
        body = self._json(r, "cursor", "commands")
        if not isinstance(body["cursor"], int) or not isinstance(body["commands"], list):
            raise ServerFault("/api/v1/commands: cursor or commands of the wrong type")
        return body

    def check_pin(self, teacher_id: str, pin: str, timeout: float) -> str:
        """PinAnswer.OK / WRONG / UNAVAILABLE (no answer in time, or none the check can use)."""
        try:
            self._send(
                "POST",
                "/api/v1/pin/check",
                body={"teacher_id": teacher_id, "pin": pin},
                timeout=timeout,
            )
        except Unauthorized:
            return PinAnswer.UNAVAILABLE  # our device token, not the PIN
        except Refused as e:
            # 401: wrong teacher or PIN; 429: the server has locked this teacher or device.
            # 422: a PIN the server's format cannot hold; the cached verifiers may know it.
            return PinAnswer.WRONG if e.status in (401, 403, 429) else PinAnswer.UNAVAILABLE
        except ServerError:
            return PinAnswer.UNAVAILABLE
        return PinAnswer.OK

    def verifiers(self) -> dict[str, Any]:
        return self._json(self._send("GET", "/api/v1/verifiers"), "verifiers")


def _detail(r: Answer) -> str:
    try:
        body = json.loads(r.body)
    except (ValueError, UnicodeDecodeError):
        return f"HTTP {r.status}"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail[:300]
    return str(detail)[:300] if detail else f"HTTP {r.status}"


def _short(e: Exception) -> str:
    text = str(e)
    return text if len(text) <= 200 else text[:200] + "..."
