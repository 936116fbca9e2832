"""`lessongate-server serve`: uvicorn in one process, or in several sharing one listening socket.

Several worker processes only make sense on PostgreSQL: SQLite has one writer at a time, and the
server's in-process pieces (long-poll wake-ups, the heartbeat writer lock) assume one process
there. On PostgreSQL every worker LISTENs for room commands and buffers its own heartbeats.

The parent binds the socket, starts the workers (spawned, so each builds its own app, engine and
event loop) and on SIGTERM/SIGINT passes SIGTERM on, so each worker answers its last requests and
flushes its pending heartbeats before it exits. If a worker dies on its own the parent stops the
others and exits non-zero, leaving the restart to the service manager.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from dataclasses import dataclass
from types import FrameType

import uvicorn

from server_stub.config import Settings
from server_stub.state import AppState

log = logging.getLogger("lessongate.serve")
# Long-polls would otherwise hold a shutdown for up to their full wait.
GRACEFUL_SHUTDOWN_S = 5
WORKER_EXIT_WAIT_S = 30


class WorkersRefused(ValueError):
    pass


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    workers: int = 1


class _Server(uvicorn.Server):
    """Wakes waiting long-polls as soon as shutdown begins: they answer at once (empty) and the
    agents re-poll, perhaps another process, instead of being cut off with an error."""

    def __init__(self, config: uvicorn.Config, state: AppState) -> None:
        super().__init__(config)
        self._lg_state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._lg_state.notifier.close()
        await super().shutdown(sockets)


def check_workers(settings: Settings, workers: int) -> None:
    if workers < 1:
        raise WorkersRefused("--workers must be at least 1")
    if workers > 1 and not settings.is_postgres:
        raise WorkersRefused(
            f"--workers {workers} needs PostgreSQL (--database-url): SQLite allows one writer at "
            "a time, so the server runs as one process on it"
        )


def run_worker(
    settings: Settings, opts: ServeOptions, sock: socket.socket | None, run_purge: bool
) -> None:
    from server_stub.app import create_app

    app = create_app(settings, run_purge=run_purge)
    config = uvicorn.Config(app, host=opts.host, port=opts.port, log_level=opts.log_level)
    config.timeout_graceful_shutdown = GRACEFUL_SHUTDOWN_S
    _Server(config, app.state.lg).run(sockets=[sock] if sock is not None else None)


def serve(settings: Settings, opts: ServeOptions) -> int:
    check_workers(settings, opts.workers)
    if opts.workers == 1:
        run_worker(settings, opts, None, run_purge=True)
        return 0
    logging.basicConfig(level=opts.log_level.upper(), format="%(levelname)s: %(message)s")
    sock = uvicorn.Config("unused:app", host=opts.host, port=opts.port).bind_socket()
    spawn = multiprocessing.get_context("spawn")
    # One purger is enough: the purge is the same DELETE whichever process runs it.
    workers = [
        spawn.Process(target=run_worker, args=(settings, opts, sock, i == 0), daemon=False)
        for i in range(opts.workers)
    ]
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for w in workers:
            w.start()
        log.info("serving on %s:%d with %d worker processes", opts.host, opts.port, len(workers))
        failed = False
        while not stop.wait(0.5):
            if any(not w.is_alive() for w in workers):
                log.error("a worker process exited; stopping the others")
                failed = True
                break
        for w in workers:
            if w.is_alive() and w.pid is not None:
                os.kill(w.pid, signal.SIGTERM)
        for w in workers:
            w.join(WORKER_EXIT_WAIT_S)
            if w.is_alive():
                w.kill()
                w.join()
                failed = True
        return 1 if failed else 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()
