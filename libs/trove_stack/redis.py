"""The stack's Redis: Debian's redis-server on loopback, password required, with its data in <data>/redis."""

from __future__ import annotations

import os
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


def write_conf(cfg: StackConfig, *, password: str) -> Path:
    """redis.conf (mode 0600) with `requirepass`: in a file, the password stays out of `ps` and /proc/<pid>/cmdline."""
    cfg.redis_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.redis_conf_path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"requirepass {password}\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def argv(cfg: StackConfig) -> tuple[str, ...]:
    """The redis-server command line: its config file (the password), loopback only, foreground, AOF when cfg.aof,
    no snapshots without it."""
    args = [
        redis_server(),
        str(cfg.redis_conf_path),
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


def _command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def ping(host: str, port: int, *, password: str, timeout_s: float = 1.0) -> bool:
    """True when a Redis server on host:port accepts `password` (AUTH) and answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(_command(b"AUTH", password.encode()) + _command(b"PING"))
            reply = b""
            while b"\r\n" not in reply.partition(b"\r\n")[2] and len(reply) < 512:
                chunk = sock.recv(512)
                if not chunk:
                    break
                reply += chunk
            return reply.startswith(b"+OK\r\n+PONG")
    except OSError:
        return False


def child(cfg: StackConfig, *, password: str) -> Child:
    """The Redis process (password `password`), ready once it accepts the password and answers PING."""
    write_conf(cfg, password=password)
    spec = ProcessSpec(
        name=NAME,
        argv=argv(cfg),
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd=cfg.redis_dir,
        ready=lambda: ping(cfg.host, cfg.redis_port, password=password),
        ready_timeout_s=30,
    )
    return Child(spec, log_path=cfg.log_path(NAME), pid_path=cfg.pid_path(NAME))
