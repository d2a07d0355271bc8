"""Keeps the whole stack alive: starts infra and services in order, restarts what dies, stops it all on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from trove_stack import postgres
from trove_stack.config import StackConfig
from trove_stack.infra import infra_hooks, infra_processes, prepare_data_dir, start_all, stop_all
from trove_stack.process import Managed, StackCancelledError, StackError, record_of, stop_pid_file, write_pid_file
from trove_stack.services import SERVICES, ServiceSpec, service_child

log = logging.getLogger(__name__)

NAME = "supervisor"
STATUS_FILE = "supervisor.json"
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
# A process that stayed up this long is healthy again: its next crash restarts after BACKOFF_START_S.
BACKOFF_RESET_UPTIME_S = 60.0
TICK_S = 0.5


@dataclass(slots=True)
class _Slot:
    proc: Managed
    started_at: float = 0.0
    restarts: int = 0
    next_backoff_s: float = BACKOFF_START_S
    restart_at: float | None = None
    state: str = "stopped"


class Supervisor:
    """Runs in the daemonised `python -m trove_stack supervise` process; `run` returns the exit code."""

    def __init__(
        self, cfg: StackConfig, *, overrides: Mapping[str, str], specs: Sequence[ServiceSpec] = SERVICES
    ) -> None:
        self.cfg = cfg
        self.secrets = prepare_data_dir(cfg)
        self.infra = infra_processes(cfg, self.secrets)
        self.services: list[Managed] = [service_child(spec, cfg, self.secrets, overrides=overrides) for spec in specs]
        self.slots = {p.name: _Slot(p) for p in [*self.infra, *self.services]}
        self._stopping = threading.Event()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self._stopping.set()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        pid_path = self.cfg.pid_path(NAME)
        write_pid_file(pid_path, record_of(os.getpid()))
        try:
            return self._run()
        finally:
            pid_path.unlink(missing_ok=True)

    def _run(self) -> int:
        try:
            self._start_infra()
        except StackCancelledError:
            self._mark_stopped()
            return 0
        except Exception as exc:
            log.error("infrastructure did not start: %s", exc)
            self._mark_stopped()
            return 1
        try:
            self._start_services()
            if not self._stopping.is_set():
                log.info("all processes started; gateway on %s", self.cfg.gateway_url)
            while not self._stopping.wait(TICK_S):
                self._tick(time.monotonic())
        finally:
            self._shutdown()
        return 0

    def _start_infra(self) -> None:
        slots = [self.slots[p.name] for p in self.infra]
        for slot in slots:
            slot.state = "starting"
        self._write_status()

        def provision() -> None:
            changes = postgres.provision_sync(self.cfg, self.secrets)
            log.info("provisioned the database (%d change(s))", len(changes))

        hooks = infra_hooks(self.cfg, self.secrets, provision=provision)
        start_all(self.infra, after_start=hooks, cancelled=self._stopping.is_set)
        now = time.monotonic()
        for slot in slots:
            slot.started_at, slot.state = now, "running"
            log.info("%s running, pid %s", slot.proc.name, slot.proc.pid)
        self._write_status()

    def _start_services(self) -> None:
        for proc in self.services:
            if self._stopping.is_set():
                return
            slot = self.slots[proc.name]
            self._launch(slot, time.monotonic())
            try:
                proc.wait_ready(cancelled=self._stopping.is_set)
            except StackCancelledError:
                return
            except StackError as exc:
                # The monitor loop takes it from here: a dead process is restarted with backoff.
                log.error("%s", exc)

    def _launch(self, slot: _Slot, now: float) -> None:
        try:
            pid = slot.proc.start()
        except Exception as exc:
            log.error("could not start %s: %s", slot.proc.name, exc)
            self._schedule_restart(slot, now)
            return
        slot.started_at, slot.restart_at, slot.state = now, None, "running"
        log.info("%s started, pid %d", slot.proc.name, pid)
        self._write_status()

    def _schedule_restart(self, slot: _Slot, now: float) -> None:
        if now - slot.started_at >= BACKOFF_RESET_UPTIME_S:
            slot.next_backoff_s = BACKOFF_START_S
        delay = slot.next_backoff_s
        slot.next_backoff_s = min(delay * 2, BACKOFF_MAX_S)
        slot.restart_at, slot.state = now + delay, "restarting"
        slot.restarts += 1
        log.warning("%s: restart #%d in %.0f s", slot.proc.name, slot.restarts, delay)
        self._write_status()

    def _tick(self, now: float) -> None:
        for slot in self.slots.values():
            if slot.restart_at is not None:
                if now >= slot.restart_at:
                    self._launch(slot, now)
            elif slot.state == "running" and not slot.proc.alive():
                log.warning(
                    "%s (pid %s) exited unexpectedly: %s after %.0f s; see %s",
                    slot.proc.name,
                    slot.proc.pid,
                    slot.proc.exit_status(),
                    now - slot.started_at,
                    slot.proc.log_path,
                )
                self._schedule_restart(slot, now)

    def _shutdown(self) -> None:
        log.info("stopping services, then infrastructure")
        for slot in self.slots.values():
            slot.restart_at = None
        stop_all(self.services)
        stop_all(self.infra)
        self._mark_stopped()
        log.info("stopped")

    def _mark_stopped(self) -> None:
        for slot in self.slots.values():
            slot.state = "stopped"
        self._write_status()

    def _write_status(self) -> None:
        body = {
            "supervisor_pid": os.getpid(),
            "updated": time.time(),
            "processes": {
                name: {"pid": s.proc.pid, "restarts": s.restarts, "state": s.state} for name, s in self.slots.items()
            },
        }
        path = self.cfg.run_dir / STATUS_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(body, indent=2) + "\n")
        os.replace(tmp, path)


def read_status(cfg: StackConfig) -> dict[str, dict[str, object]]:
    """Per-process state and restart count as the supervisor last wrote them ({} if never)."""
    try:
        body = json.loads((cfg.run_dir / STATUS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    processes: dict[str, dict[str, object]] = body.get("processes", {})
    return processes


def stop_leftovers(cfg: StackConfig, *, service_names: Sequence[str]) -> list[str]:
    """Stop processes whose PID files outlived their supervisor (identity-checked); returns their names."""
    stopped = []
    known = [*reversed(service_names), "auth", "redis"]
    others = sorted(p.stem for p in cfg.run_dir.glob("*.pid") if p.stem not in {*known, NAME, postgres.NAME})
    for name in [*others, *known]:
        if stop_pid_file(cfg.pid_path(name)):
            stopped.append(name)
    if postgres.stop(cfg):
        stopped.append(postgres.NAME)
    return stopped
