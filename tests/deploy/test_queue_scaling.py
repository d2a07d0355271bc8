"""The KEDA triggers count what the workers read: ARQ jobs enqueued the way ingest and the stages enqueue them,
measured with the length script KEDA's redis scaler runs (a sorted set is counted with ZCARD), on a real Redis."""

from __future__ import annotations

import yaml
from deploy_wiring import REPO
from pydantic import SecretStr

from trove_analysis.queues import FAMILIES, RUN_STAGE, family_queue
from trove_common.jobs import ANALYZE_MEDIA, AnalyzeMediaArgs, connect_redis, enqueue_analysis
from trove_stack.infra import Infra

# KEDA's redis scaler (pkg/scalers/redis_scaler.go): the key's length by its type.
KEDA_LENGTH_SCRIPT = """
local listName = KEYS[1]
local listType = redis.call('type', listName).ok
local cmd = {zset = 'zcard', set = 'scard', list = 'llen', hash = 'hlen', none = 'llen'}
return redis.call(cmd[listType], listName)
"""
# A database of its own: the session's workers read database 0 and must not see these jobs.
SCRATCH_DB = 13


def _scaled_queues() -> dict[str, str]:
    docs = yaml.safe_load_all((REPO / "deploy" / "k8s" / "base" / "keda.yaml").read_text())
    return {
        d["spec"]["scaleTargetRef"]["name"].removeprefix("trove-worker-"): d["spec"]["triggers"][0]["metadata"][
            "listName"
        ]
        for d in docs
        if d["kind"] == "ScaledObject"
    }


async def test_keda_sees_the_jobs_waiting_in_each_family_queue(infra: Infra) -> None:
    queues = _scaled_queues()
    assert set(queues) == set(FAMILIES)
    dsn = infra.redis_dsn.rsplit("/", 1)[0] + f"/{SCRATCH_DB}"
    redis = await connect_redis(SecretStr(dsn))
    try:
        await redis.flushdb()
        for count, family in enumerate(FAMILIES, start=1):
            assert queues[family] == family_queue(family)
            for n in range(count):
                args = AnalyzeMediaArgs(
                    media_id=f"{family}-{n}",
                    user_id="u",
                    storage_key="k",
                    content_type="image/png",
                    kind="image",
                    priority="premium" if n % 2 else "standard",  # head-start scores are still counted
                )
                function = ANALYZE_MEDIA if family == "text" else RUN_STAGE
                assert await enqueue_analysis(
                    redis, function=function, job_id=f"{function}:{family}:{n}", queue=queues[family], args=args
                )
        for count, family in enumerate(FAMILIES, start=1):
            assert await redis.eval(KEDA_LENGTH_SCRIPT, 1, queues[family]) == count, family
        assert await redis.eval(KEDA_LENGTH_SCRIPT, 1, "trove:queue:analysis:nothing") == 0  # an empty queue
    finally:
        await redis.flushdb()
        await redis.aclose()
