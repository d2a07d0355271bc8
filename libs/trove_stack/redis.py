"""The stack's Redis: Debian's redis-server on loopback, with its data in <data>/redis."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from trove_stack.config import StackConfig
from trove_stack.process import Child, ProcessSpec, StackError

NAME = "redis"
DEBIAN_REDIS = Path("/usr/bin/redis-server")


def redis_server() -> str:
    """Debian's /usr/bin/redis-server, else the first redis-server on PATH."""
    if DEBIAN_REDIS.is_file():
        return str(DEBIAN_REDIS)
    found = shutil.which("redis-server")
    if found is None:
        raise StackError("redis-server not found: run `bash scripts/bootstrap.sh system` (Debian package redis-server)")
    return found


def argv(cfg: StackConfig) -> tuple[str, ...]:
    """The redis-server command line: loopback only, foreground, AOF when cfg.aof, no snapshots without it."""
    args = [
        redis_server(),
        "--bind", cfg.host,
        "--port", str(cfg.redis_port),
        "--dir", str(cfg.redis_dir),
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", "",
    ]  # fmt: skip
    if cfg.aof:
        args += ["--appendonly", "yes", "--appendfsync", "everysec"]
    else:
        args += ["--appendonly", "no", "--save", ""]
    return tuple(args)


def ping(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when a Redis server on host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def child(cfg: StackConfig) -> Child:
    """The Redis process, ready once it answers PING."""
    cfg.redis_dir.mkdir(parents=True, exist_ok=True)
    spec = ProcessSpec(
        name=NAME,
        argv=argv(cfg),
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd=cfg.redis_dir,
        ready=lambda: ping(cfg.host, cfg.redis_port),
        ready_timeout_s=30,
    )
    return Child(spec, log_path=cfg.log_path(NAME), pid_path=cfg.pid_path(NAME))
