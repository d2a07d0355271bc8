"""The stack's Redis on loopback, and the PID-file discipline every stack process is stopped by."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from trove_stack import redis as stack_redis
from trove_stack.config import StackConfig, redis_dsn
from trove_stack.process import (
    PidRecord,
    group_members,
    is_alive,
    read_pid_file,
    record_of,
    stop_pid_file,
    wait_until,
    write_pid_file,
)
from trove_stack.secrets import load_or_create


@pytest.fixture
def cfg() -> Iterator[StackConfig]:
    config = StackConfig.ephemeral()
    yield config
    shutil.rmtree(config.data_dir, ignore_errors=True)


async def test_redis_answers_ping_without_persistence(cfg: StackConfig) -> None:
    secrets = load_or_create(cfg.secrets_path)
    child = stack_redis.child(cfg, password=secrets.redis_password)
    child.start()
    try:
        child.wait_ready()
        client = aioredis.from_url(redis_dsn(cfg, secrets), decode_responses=True)
        try:
            assert await client.ping()
            assert await client.config_get("appendonly") == {"appendonly": "no"}
            assert await client.config_get("save") == {"save": ""}
            assert await client.config_get("bind") == {"bind": cfg.host}
        finally:
            await client.aclose()
        record = read_pid_file(cfg.pid_path("redis"))
        assert record is not None and is_alive(record)
    finally:
        child.stop()
    assert not is_alive(record)
    assert not cfg.pid_path("redis").exists()
    assert not stack_redis.ping(cfg.host, cfg.redis_port, password=secrets.redis_password)


async def test_redis_refuses_clients_without_the_password_which_stays_off_the_command_line(cfg: StackConfig) -> None:
    secrets = load_or_create(cfg.secrets_path)
    child = stack_redis.child(cfg, password=secrets.redis_password)
    child.start()
    try:
        child.wait_ready()
        for dsn in (f"redis://{cfg.host}:{cfg.redis_port}/0", f"redis://:wrong-password@{cfg.host}:{cfg.redis_port}/0"):
            client = aioredis.from_url(dsn, decode_responses=True)
            try:
                with pytest.raises(aioredis.AuthenticationError):
                    await client.set("k", "v")
            finally:
                await client.aclose()
        with socket.create_connection((cfg.host, cfg.redis_port), timeout=5) as sock:
            sock.sendall(b"SET k v\r\n")
            assert sock.recv(128).startswith(b"-NOAUTH")
        assert not stack_redis.ping(cfg.host, cfg.redis_port, password="wrong-password")
        assert stack_redis.ping(cfg.host, cfg.redis_port, password=secrets.redis_password)
        record = read_pid_file(cfg.pid_path("redis"))
        assert record is not None
        cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes()  # noqa: ASYNC240 (a tiny procfs file)
        assert secrets.redis_password.encode() not in cmdline
        assert os.stat(cfg.redis_conf_path).st_mode & 0o777 == 0o600
        assert os.stat(cfg.secrets_path).st_mode & 0o777 == 0o600
    finally:
        child.stop()


async def test_redis_keeps_an_append_only_file_when_asked(cfg: StackConfig) -> None:
    durable = dataclasses.replace(cfg, aof=True)
    secrets = load_or_create(durable.secrets_path)
    child = stack_redis.child(durable, password=secrets.redis_password)
    child.start()
    try:
        child.wait_ready()
        client = aioredis.from_url(redis_dsn(durable, secrets), decode_responses=True)
        try:
            await client.set("k", "v")
            assert await client.config_get("appendonly") == {"appendonly": "yes"}
            assert await client.config_get("appendfsync") == {"appendfsync": "everysec"}
        finally:
            await client.aclose()
    finally:
        child.stop()
    assert any(p.is_dir() and p.name.startswith("appendonly") for p in durable.redis_dir.iterdir())


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


def test_a_stale_pid_file_never_kills_a_stranger(tmp_path: Path) -> None:
    stranger = _sleeper()
    try:
        pid_file = tmp_path / "stale.pid"
        # Same PID, different start time: what a PID reused after our process died looks like.
        write_pid_file(pid_file, PidRecord(stranger.pid, start_ticks=1))
        assert not stop_pid_file(pid_file, timeout_s=1)
        assert stranger.poll() is None
        assert not pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_by_pid_file_ends_the_whole_process_group(tmp_path: Path) -> None:
    # A leader whose own child stays in its process group, as a worker pool's would.
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)"
    )
    leader = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        wait_until(lambda: len(group_members(leader.pid)) == 2, timeout_s=10, what="the grandchild")
        pid_file = tmp_path / "leader.pid"
        write_pid_file(pid_file, record_of(leader.pid))
        assert stop_pid_file(pid_file, timeout_s=5)
        leader.wait(timeout=5)
        assert group_members(leader.pid) == []
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait()
