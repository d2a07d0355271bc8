"""Child processes with a log file, a PID file that proves identity, and a stop that reaches the whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

POLL_S = 0.05


class StackError(RuntimeError):
    """Something in the embedded stack could not be started or stopped; the message says what to look at."""


class StackCancelledError(StackError):
    """A wait gave up because the stack is shutting down."""


@dataclass(frozen=True, slots=True)
class PidRecord:
    """A PID plus the process's start time in clock ticks since boot, which a reused PID cannot match."""

    pid: int
    start_ticks: int


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    return raw[raw.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), or None if there is no such live process."""
    stat = _stat_fields(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return None
    return int(stat[19])


def record_of(pid: int) -> PidRecord:
    ticks = start_ticks(pid)
    if ticks is None:
        raise StackError(f"process {pid} exited right after it started")
    return PidRecord(pid, ticks)


def write_pid_file(path: Path, record: PidRecord) -> None:
    """PID on the first line (so `kill $(head -1 f)` works), start time on the second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{record.pid}\n{record.start_ticks}\n")
    os.replace(tmp, path)


def read_pid_file(path: Path) -> PidRecord | None:
    try:
        lines = path.read_text().split()
        return PidRecord(int(lines[0]), int(lines[1]))
    except (FileNotFoundError, IndexError, ValueError):
        return None


def is_alive(record: PidRecord | None) -> bool:
    """True while the recorded process runs: same PID *and* same start time (a stale file matches nothing)."""
    return record is not None and start_ticks(record.pid) == record.start_ticks


def alive_pid(path: Path) -> int | None:
    """The PID in `path` if that very process is still running."""
    record = read_pid_file(path)
    return record.pid if record is not None and is_alive(record) else None


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid`."""
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat_fields(int(entry.name))
            if stat is not None and stat[0] not in ("Z", "X") and int(stat[2]) == pgid:
                members.append(int(entry.name))
    return members


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _signal(record: PidRecord, sig: int, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(record.pid, sig)
        elif is_alive(record):
            os.kill(record.pid, sig)


def _gone(record: PidRecord, group: bool) -> bool:
    _reap(record.pid)
    if group:
        return not group_members(record.pid)
    return not is_alive(record)


def stop_record(
    record: PidRecord,
    *,
    timeout_s: float = 20.0,
    sig: int = signal.SIGTERM,
    popen: subprocess.Popen[bytes] | None = None,
) -> bool:
    """Stop one of our processes: `sig` to its process group, SIGKILL after `timeout_s`. False if it was gone.

    Only a process whose PID *and* start time match the record is signalled, so a stale record never hits a
    stranger that reused the PID.
    """
    if not is_alive(record):
        if popen is not None:
            popen.wait()
        return False
    # Our children lead their own session; the group then holds anything they started (workers, helpers).
    try:
        group = os.getpgid(record.pid) == record.pid
    except ProcessLookupError:
        group = False
    _signal(record, sig, group)
    deadline = time.monotonic() + timeout_s
    while not _gone(record, group):
        if time.monotonic() > deadline:
            _signal(record, signal.SIGKILL, group)
            kill_deadline = time.monotonic() + 10.0
            while not _gone(record, group) and time.monotonic() < kill_deadline:
                time.sleep(POLL_S)
            break
        time.sleep(POLL_S)
    if popen is not None:
        popen.wait()
    return True


def stop_pid_file(path: Path, *, timeout_s: float = 20.0, sig: int = signal.SIGTERM) -> bool:
    """Stop the process recorded in `path` (see `stop_record`) and remove the file."""
    record = read_pid_file(path)
    stopped = record is not None and stop_record(record, timeout_s=timeout_s, sig=sig)
    path.unlink(missing_ok=True)
    return stopped


def spawn(
    *,
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    pid_path: Path,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, stdout+stderr appended to `log_path`, its PID recorded in `pid_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        log.write(f"--- {stamp} trove_stack starting {name}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise StackError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    ticks = start_ticks(proc.pid)
    write_pid_file(pid_path, PidRecord(proc.pid, ticks if ticks is not None else -1))
    return proc


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    cancelled: Callable[[], bool] | None = None,
    log_path: Path | None = None,
    interval_s: float = 0.1,
) -> None:
    """Poll `check` until it holds; fail early if `alive` turns false, give up when `cancelled` turns true."""
    where = f"; see {log_path}" if log_path is not None else ""
    deadline = time.monotonic() + timeout_s
    while not check():
        if cancelled is not None and cancelled():
            raise StackCancelledError(f"stopped waiting for {what}: shutting down")
        if alive is not None and not alive():
            raise StackError(f"{what}: the process exited{where}")
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not ready after {timeout_s:.0f} s{where}")
        time.sleep(interval_s)


def wait_port(
    host: str,
    port: int,
    timeout_s: float,
    *,
    alive: Callable[[], bool] | None = None,
    cancelled: Callable[[], bool] | None = None,
    log_path: Path | None = None,
) -> None:
    """Wait until something accepts TCP connections on host:port."""
    wait_until(
        lambda: port_open(host, port),
        timeout_s=timeout_s,
        what=f"port {host}:{port}",
        alive=alive,
        cancelled=cancelled,
        log_path=log_path,
    )


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Managed(Protocol):
    """What the supervisor and the test helpers need of a process: Child and PostgresProcess both fit."""

    name: str
    log_path: Path
    pid_path: Path

    @property
    def pid(self) -> int | None: ...

    def start(self) -> int: ...

    def alive(self) -> bool: ...

    def exit_status(self) -> str: ...

    def wait_ready(self, *, cancelled: Callable[[], bool] | None = None) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """How to run, probe and stop one long-running child.

    Args:
        ready: True once the process serves (a port answers, a PING returns); None means "started is ready".
    """

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    ready: Callable[[], bool] | None = None
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 20.0
    stop_signal: int = signal.SIGTERM


class Child:
    """A process started by us, logged to <log_dir>/<name>.log, its current PID in <run_dir>/<name>.pid."""

    def __init__(self, spec: ProcessSpec, *, log_path: Path, pid_path: Path) -> None:
        self.spec = spec
        self.name = spec.name
        self.log_path = log_path
        self.pid_path = pid_path
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def start(self) -> int:
        # A leftover of an earlier run (its supervisor was killed) would hold the port: stop it first.
        stop_pid_file(self.pid_path, timeout_s=self.spec.stop_timeout_s, sig=self.spec.stop_signal)
        self._popen = spawn(
            name=self.name,
            argv=self.spec.argv,
            env=self.spec.env,
            cwd=self.spec.cwd,
            log_path=self.log_path,
            pid_path=self.pid_path,
        )
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def exit_status(self) -> str:
        code = self._popen.poll() if self._popen is not None else None
        if code is None:
            return "running" if self._popen is not None else "not started"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def wait_ready(self, *, cancelled: Callable[[], bool] | None = None) -> None:
        if self.spec.ready is None:
            return
        wait_until(
            self.spec.ready,
            timeout_s=self.spec.ready_timeout_s,
            what=self.name,
            alive=self.alive,
            cancelled=cancelled,
            log_path=self.log_path,
        )

    def stop(self) -> None:
        popen, self._popen = self._popen, None
        if popen is None:
            stop_pid_file(self.pid_path, timeout_s=self.spec.stop_timeout_s, sig=self.spec.stop_signal)
            return
        record = read_pid_file(self.pid_path)
        if record is None or record.pid != popen.pid:
            record = PidRecord(popen.pid, start_ticks(popen.pid) or -1)
        stop_record(record, timeout_s=self.spec.stop_timeout_s, sig=self.spec.stop_signal, popen=popen)
        self.pid_path.unlink(missing_ok=True)
