"""Command line: `python -m trove_stack up|down|status|infra` (and `supervise`, which `up` starts)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from trove_stack import auth, aws_sim, cloud_sim, postgres, redis
from trove_stack.config import REPO_ROOT, StackConfig, read_dotenv
from trove_stack.infra import InfraStack
from trove_stack.process import (
    StackError,
    alive_pid,
    is_alive,
    log_tail,
    read_pid_file,
    spawn,
    stop_record,
)
from trove_stack.services import SERVICES, ServiceSpec, gateway_ready, service_specs
from trove_stack.supervisor import NAME as SUPERVISOR
from trove_stack.supervisor import Supervisor, read_status, stop_leftovers

INFRA_NAMES = (postgres.NAME, redis.NAME, aws_sim.NAME, cloud_sim.AWSSIM, cloud_sim.EMBED, auth.NAME)
SUPERVISOR_STOP_TIMEOUT_S = 180.0


def _user_environment() -> dict[str, str]:
    # The user's settings: .env in the repo root, then the real environment on top.
    return {**read_dotenv(REPO_ROOT / ".env"), **os.environ}


def _service_names(*, strict: bool) -> list[str]:
    """Every service process `up` starts, extra per-family workers included (TROVE_WORKERS__<FAMILY>).

    Not strict (down, status): a wrong TROVE_WORKERS__ value falls back to the default list; the extra workers'
    PID files are still found by `stop_leftovers` and the supervisor's status file.
    """
    specs: tuple[ServiceSpec, ...] = SERVICES
    try:
        specs = service_specs(_user_environment())
    except StackError:
        if strict:
            raise
    return [s.name for s in specs]


def _print_up(cfg: StackConfig, prefix: str) -> None:
    print(f"{prefix} {cfg.gateway_url}")
    print(f"  auth emulator: {cfg.auth_emulator_host} (project demo-trove)")
    print(f"  logs: {cfg.log_dir}   stop: make stop (python -m trove_stack down)")


def _log_files(cfg: StackConfig) -> str:
    return "\n".join(f"  {p}" for p in sorted(cfg.log_dir.glob("*.log")))


def cmd_up(cfg: StackConfig, timeout_s: float) -> int:
    """Start the supervisor (once) and wait for the gateway's /readyz."""
    sup_path = cfg.pid_path(SUPERVISOR)
    if alive_pid(sup_path) is not None and gateway_ready(cfg):
        _print_up(cfg, "Trove is already up:")
        return 0
    if alive_pid(sup_path) is None:
        names = _service_names(strict=True)  # a wrong TROVE_WORKERS__* fails here, before anything starts
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        left = stop_leftovers(cfg, service_names=names)
        if left:
            print(f"stopped leftovers of an earlier run: {', '.join(left)}")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "libs"), env.get("PYTHONPATH")]))
        argv = [sys.executable, "-m", "trove_stack", "supervise", "--data-dir", str(cfg.data_dir)]
        spawn(name=SUPERVISOR, argv=argv, env=env, cwd=REPO_ROOT, log_path=cfg.log_path(SUPERVISOR), pid_path=sup_path)
        print(f"starting Trove in the background (logs in {cfg.log_dir})")
    deadline = time.monotonic() + timeout_s
    while not gateway_ready(cfg):
        if alive_pid(sup_path) is None:
            tail = log_tail(cfg.log_path(SUPERVISOR))
            print(f"error: the supervisor exited during start-up; its log ends with:\n{tail}", file=sys.stderr)
            print(f"all logs:\n{_log_files(cfg)}", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(
                f"error: {cfg.gateway_url}/readyz did not answer 200 within {timeout_s:.0f} s. Processes keep "
                f"running and restarting; see `python -m trove_stack status` and the logs:\n{_log_files(cfg)}\n"
                f"supervisor log ends with:\n{log_tail(cfg.log_path(SUPERVISOR))}",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.5)
    _print_up(cfg, "Trove is up:")
    return 0


def cmd_down(cfg: StackConfig) -> int:
    """Stop the supervisor (which stops services, then infra), then anything its PID files still name."""
    record = read_pid_file(cfg.pid_path(SUPERVISOR))
    was_up = record is not None and is_alive(record)
    if record is not None and was_up:
        stop_record(record, timeout_s=SUPERVISOR_STOP_TIMEOUT_S)
    cfg.pid_path(SUPERVISOR).unlink(missing_ok=True)
    left = stop_leftovers(cfg, service_names=_service_names(strict=False)) if cfg.run_dir.exists() else []
    if left:
        print(f"stopped leftover processes: {', '.join(left)}")
    print("Trove stopped" if was_up or left else "Trove was not running")
    return 0


def cmd_status(cfg: StackConfig) -> int:
    """One line per process: name, pid, alive, restarts."""
    status = read_status(cfg)
    names = [SUPERVISOR, *INFRA_NAMES, *_service_names(strict=False)]
    names += [n for n in status if n not in names]
    width = max(18, *(len(n) + 2 for n in names))
    print(f"{'name':<{width}}{'pid':>8}  {'alive':<6}{'restarts':>9}  state")
    for name in names:
        record = read_pid_file(cfg.pid_path(name))
        alive = is_alive(record)
        entry = status.get(name, {})
        pid = str(record.pid) if record is not None else "-"
        state = "running" if name == SUPERVISOR and alive else str(entry.get("state", "-"))
        restarts = entry.get("restarts", "-") if name != SUPERVISOR else "-"
        print(f"{name:<{width}}{pid:>8}  {'yes' if alive else 'no':<6}{restarts!s:>9}  {state}")
    return 0


def cmd_supervise(cfg: StackConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    environment = _user_environment()
    return Supervisor(cfg, overrides=environment, specs=service_specs(environment)).run()


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def cmd_infra(cfg: StackConfig, *, ephemeral: bool) -> int:
    """PostgreSQL, Redis and the emulator in the foreground until Ctrl-C (for poking at them by hand)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stack = InfraStack(cfg, remove_data_on_stop=ephemeral)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        info = stack.start()
        print(f"data dir:      {cfg.data_dir}")
        print(f"postgres:      {info.admin_dsn}")
        for svc, dsn in info.dsns.items():
            print(f"  {svc:<12}{dsn}")
        print(f"redis:         {info.redis_dsn}")
        print(f"auth emulator: {info.auth_emulator_host}")
        print("Ctrl-C stops them", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trove_stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in [
        ("up", "start everything in the background and wait for the gateway"),
        ("down", "stop everything `up` started"),
        ("status", "list the processes"),
        ("supervise", "run the supervisor in the foreground (what `up` daemonises)"),
        ("infra", "run PostgreSQL, Redis and the auth emulator in the foreground"),
    ]:
        p = sub.add_parser(name, help=text)
        p.add_argument("--data-dir", type=Path, default=None, help="default: TROVE_STACK_DATA_DIR or <repo>/.trove")
        if name == "up":
            p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for /readyz (600)")
        if name == "infra":
            p.add_argument("--ephemeral", action="store_true", help="free ports, a temp data dir deleted on exit")
    args = parser.parse_args(argv)
    if args.command == "infra" and args.ephemeral:
        cfg = StackConfig.ephemeral(args.data_dir)
    else:
        cfg = StackConfig.from_env(_user_environment(), data_dir=args.data_dir)
    try:
        match args.command:
            case "up":
                return cmd_up(cfg, args.timeout)
            case "down":
                return cmd_down(cfg)
            case "status":
                return cmd_status(cfg)
            case "supervise":
                return cmd_supervise(cfg)
            case _:
                return cmd_infra(cfg, ephemeral=args.ephemeral and args.data_dir is None)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
