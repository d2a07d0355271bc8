"""A supervised Trove stack of its own (what `make run` starts), for tests that kill and restart its processes.

`python -m trove_stack supervise` runs in its own data dir on free ports and restarts what dies, exactly as
under `make run`; tests find processes by their PID files. The analysis worker reaches search through a
`Forwarder`, a port the test can close (search unavailable) and open again (the fault fixed).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from support import Api, sign_up

from trove_stack import postgres
from trove_stack.config import REPO_ROOT, StackConfig, free_ports
from trove_stack.process import is_alive, read_pid_file, spawn, stop_pid_file
from trove_stack.secrets import load_or_create
from trove_stack.services import gateway_ready


class Forwarder:
    """A loopback port that refuses connections while closed and forwards them to `target_port` while open."""

    def __init__(self, target_port: int) -> None:
        self.port = free_ports(1)[0]
        self._target_port = target_port
        self._server: socket.socket | None = None
        self._open: list[socket.socket] = []

    def open(self) -> None:
        if self._server is not None:
            return
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def close(self) -> None:
        server, self._server = self._server, None
        for sock in [*([server] if server else []), *self._open]:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._open.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target_port))
            except OSError:  # the target is down (killed, restarting): refuse this one, keep forwarding
                client.close()
                continue
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@dataclass(frozen=True, slots=True)
class Supervised:
    config: StackConfig
    search: Forwarder

    @property
    def admin_dsn(self) -> str:
        return postgres.admin_dsn(self.config, load_or_create(self.config.secrets_path), database=postgres.DATABASE)

    async def api(self, *, admin: bool = False) -> Api:
        """A REST client for a new user signed up on this stack's emulator (`admin=True`: an admin)."""
        token, uid = await sign_up(self.config.auth_emulator_host, admin=admin)
        return Api(base_url=self.config.gateway_url, token=token, firebase_uid=uid)

    def pid(self, name: str) -> int | None:
        record = read_pid_file(self.config.pid_path(name))
        return record.pid if record is not None and is_alive(record) else None

    def wait_restarted(self, name: str, old_pid: int, timeout_s: float = 120) -> int:
        """The PID of `name` once the supervisor has started a new one."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pid = self.pid(name)
            if pid is not None and pid != old_pid:
                return pid
            time.sleep(0.2)
        raise AssertionError(f"{name} was not restarted within {timeout_s} s")


@contextmanager
def supervised_stack(overrides: Mapping[str, str], ready_timeout_s: float = 600) -> Iterator[Supervised]:
    """Start the supervisor on free ports with `overrides` in its environment; stop it (by PID) at the end."""
    data_dir = Path(tempfile.mkdtemp(prefix="trove-supervised-"))
    data_dir.chmod(0o755)
    names = [f for f in StackConfig.__dataclass_fields__ if f.endswith("_port")]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    env = {**os.environ, **overrides, "TROVE_STACK_DATA_DIR": str(data_dir)}
    env.update({f"TROVE_STACK_{name.upper()}": str(port) for name, port in ports.items()})
    config = StackConfig.from_env(env, data_dir=data_dir)
    search = Forwarder(config.search_port)
    env["TROVE_ANALYSIS_SEARCH_ADDR"] = f"127.0.0.1:{search.port}"
    config.run_dir.mkdir(parents=True, exist_ok=True)
    config.log_dir.mkdir(parents=True, exist_ok=True)
    pid_path = config.pid_path("supervisor")
    argv = [sys.executable, "-m", "trove_stack", "supervise", "--data-dir", str(data_dir)]
    supervisor = spawn(
        name="supervisor", argv=argv, env=env, cwd=REPO_ROOT, log_path=config.log_path("supervisor"), pid_path=pid_path
    )
    try:
        deadline = time.monotonic() + ready_timeout_s
        while not gateway_ready(config):
            assert time.monotonic() < deadline, f"the supervised stack is not ready; logs in {config.log_dir}"
            time.sleep(0.5)
        yield Supervised(config=config, search=search)
    finally:
        search.close()
        stop_pid_file(pid_path, timeout_s=180)
        supervisor.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
