"""More than one analysis worker per stage family: TROVE_WORKERS__<FAMILY>=N in `make run`'s process list."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from arq.constants import health_check_key_suffix

from trove_analysis.queues import FAMILIES as ANALYSIS_FAMILIES
from trove_analysis.queues import family_queue
from trove_analysis.settings import Settings
from trove_stack.config import StackConfig
from trove_stack.infra import Infra
from trove_stack.process import StackError
from trove_stack.secrets import load_or_create
from trove_stack.services import FAMILIES, SERVICES, WORKER, service_child, service_specs, worker_counts


@pytest.fixture
def cfg() -> Iterator[StackConfig]:
    config = StackConfig.ephemeral()
    yield config
    shutil.rmtree(config.data_dir, ignore_errors=True)


def test_the_launcher_knows_the_analysis_families() -> None:
    assert FAMILIES == ANALYSIS_FAMILIES


def test_one_general_worker_by_default() -> None:
    assert worker_counts({}) == dict.fromkeys(FAMILIES, 1)
    assert service_specs({}) == SERVICES
    assert service_specs({"TROVE_WORKERS__VIDEO": "1"}) == SERVICES


def test_extra_workers_serve_one_family_each_and_start_after_the_general_one() -> None:
    specs = service_specs({"TROVE_WORKERS__IMAGE": "2", "TROVE_WORKERS__EMBEDDING": "3", "PATH": "/usr/bin"})
    names = [s.name for s in specs]
    general = names.index(WORKER)
    assert names[general + 1 : general + 4] == [
        "analysis-worker-image-2",
        "analysis-worker-embedding-2",
        "analysis-worker-embedding-3",
    ]
    assert names[-1] == "gateway"  # the gateway still starts last
    assert len(names) == len(set(names)) == len(SERVICES) + 3
    extra = {s.name: s for s in specs if s.name.startswith(f"{WORKER}-")}
    assert extra["analysis-worker-image-2"].extra_env == {"TROVE_ANALYSIS_FAMILIES": '["image"]'}
    assert extra["analysis-worker-embedding-3"].extra_env == {"TROVE_ANALYSIS_FAMILIES": '["embedding"]'}
    for spec in extra.values():
        assert spec.args == ("-m", "trove_analysis.main", "worker") and spec.env == "analysis" and spec.port is None


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"TROVE_WORKERS__IMAGE": "0"}, "TROVE_WORKERS__IMAGE"),
        ({"TROVE_WORKERS__TEXT": "two"}, "TROVE_WORKERS__TEXT"),
        ({"TROVE_WORKERS__VIDEO": "17"}, "TROVE_WORKERS__VIDEO"),
        ({"TROVE_WORKERS__VIDEO": "-1"}, "TROVE_WORKERS__VIDEO"),
        ({"TROVE_WORKERS__AUDIO": "2"}, "TROVE_WORKERS__AUDIO"),
    ],
)
def test_a_wrong_setting_is_refused_by_name(environ: dict[str, str], named: str) -> None:
    with pytest.raises(StackError, match=named):
        service_specs(environ)


def test_an_extra_worker_has_its_own_files_and_reads_only_its_family(
    cfg: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = load_or_create(cfg.secrets_path)
    environ = {
        "TROVE_WORKERS__VIDEO": "2",
        "TROVE_ANALYSIS_FAMILIES": '["text"]',
    }  # the .env's choice is for the general one
    specs = {s.name: s for s in service_specs(environ)}
    general = service_child(specs[WORKER], cfg, secrets, overrides=environ, base_env={})
    extra = service_child(specs["analysis-worker-video-2"], cfg, secrets, overrides=environ, base_env={})
    assert extra.log_path == cfg.log_path("analysis-worker-video-2") != general.log_path
    assert extra.pid_path == cfg.pid_path("analysis-worker-video-2") != general.pid_path
    # The analysis service's own Settings, read from each child's environment exactly as the process would.
    for child, families in ((general, ["text"]), (extra, ["video"])):
        for name in [n for n in os.environ if n.startswith("TROVE_ANALYSIS_")]:
            monkeypatch.delenv(name)
        for name, value in child.spec.env.items():
            if name.startswith("TROVE_ANALYSIS_"):
                monkeypatch.setenv(name, value)
        assert Settings().families == families


async def test_an_extra_worker_starts_and_polls_only_its_family_queue(infra: Infra) -> None:
    """A real start on the session's PostgreSQL and Redis (a Redis database of its own, so no other worker's
    health-check keys are there): each ARQ pool marks its queue's `<queue>:health-check` key when it starts polling.
    """
    dsn = infra.redis_dsn.rsplit("/", 1)[0] + "/7"
    overrides = {"TROVE_WORKERS__IMAGE": "2", "TROVE_ANALYSIS_REDIS__DSN": dsn}
    spec = next(s for s in service_specs(overrides) if s.name == "analysis-worker-image-2")
    child = service_child(spec, infra.config, infra.secrets, overrides=overrides)
    redis = aioredis.from_url(dsn)
    await redis.flushdb()
    child.start()
    try:
        deadline = time.monotonic() + 90
        while not await redis.exists(family_queue("image") + health_check_key_suffix):
            assert child.alive(), child.log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "the image worker never polled its queue"
            await asyncio.sleep(0.5)
        assert child.pid_path.is_file()
        others = [family_queue(f) + health_check_key_suffix for f in FAMILIES if f != "image"]
        assert await redis.exists(*others) == 0
    finally:
        child.stop()
        await redis.flushdb()
        await redis.aclose()
    assert not child.pid_path.exists()


def _stack_cli(*args: str, environ: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environ}
    return subprocess.run(
        [sys.executable, "-m", "trove_stack", *args, "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_and_down_name_the_extra_workers_and_up_refuses_a_wrong_count(cfg: StackConfig) -> None:
    environ = {"TROVE_WORKERS__TEXT": "2"}
    status = _stack_cli("status", environ=environ, data_dir=cfg.data_dir)
    assert status.returncode == 0, status.stderr
    rows = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines()[1:]}
    assert rows["analysis-worker-text-2"][:2] == ["-", "no"]
    assert _stack_cli("down", environ=environ, data_dir=cfg.data_dir).returncode == 0
    refused = _stack_cli("up", environ={"TROVE_WORKERS__TEXT": "0"}, data_dir=cfg.data_dir)
    assert refused.returncode == 1 and "TROVE_WORKERS__TEXT" in refused.stderr
    assert not cfg.pid_path("supervisor").exists()  # refused before anything started
