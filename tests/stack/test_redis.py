"""The stack's Redis on loopback, and the PID-file discipline every stack process is stopped by."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from trove_stack import redis as stack_redis
from trove_stack.config import StackConfig
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


@pytest.fixture
def cfg() -> Iterator[StackConfig]:
    config = StackConfig.ephemeral()
    yield config
    shutil.rmtree(config.data_dir, ignore_errors=True)


async def test_redis_answers_ping_without_persistence(cfg: StackConfig) -> None:
    child = stack_redis.child(cfg)
    child.start()
    try:
        child.wait_ready()
        client = aioredis.from_url(cfg.redis_dsn, decode_responses=True)
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
    assert not stack_redis.ping(cfg.host, cfg.redis_port)


async def test_redis_keeps_an_append_only_file_when_asked(cfg: StackConfig) -> None:
    durable = dataclasses.replace(cfg, aof=True)
    child = stack_redis.child(durable)
    child.start()
    try:
        child.wait_ready()
        client = aioredis.from_url(durable.redis_dsn, decode_responses=True)
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
