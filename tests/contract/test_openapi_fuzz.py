"""The API contract, fuzzed: schemathesis runs every operation of /api/v1/openapi.json against the running
gateway as a signed-in user, with every check and the stateful links (create upload -> complete -> get ->
similar/delete); zero server errors and zero answers that break the schema.

Examples per operation: TROVE_TEST_FUZZ_EXAMPLES (default 10; CI keeps this small, a local soak can raise it).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from support import DEV_MEDIA, Api

from trove_common.context import ADMIN_KEY
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc

NewApi = Callable[..., Awaitable[Api]]

EXAMPLES = int(os.environ.get("TROVE_TEST_FUZZ_EXAMPLES", "10"))
TIME_LIMIT_S = float(os.environ.get("TROVE_TEST_FUZZ_TIMEOUT_S", "240"))
CONFIG = Path(__file__).with_name("schemathesis.toml")


async def _premium_admin(new_api: NewApi, channel: grpc.aio.Channel) -> Api:
    """An administrator (so the admin routes run too) on the premium tier, set before their first request so that
    the gateway's first look at the account already sees it (the session widens premium's rate limits)."""
    api = await new_api(admin=True)
    stub = billing_pb2_grpc.BillingServiceStub(channel)
    user = await stub.EnsureUser(billing_pb2.EnsureUserRequest(firebase_uid=api.firebase_uid))
    await stub.SetTier(
        billing_pb2.SetTierRequest(user_id=user.user.user_id, tier="premium"), metadata=((ADMIN_KEY, "1"),)
    )
    return api


async def test_every_operation_keeps_the_contract(
    new_api: NewApi, gateway_url: str, grpc_channel: Callable[..., grpc.aio.Channel], tmp_path: Path
) -> None:
    api = await _premium_admin(new_api, grpc_channel("billing"))
    # Something to find, page through and look at, besides what the fuzzer creates.
    media_id = await api.upload((DEV_MEDIA / "rocket.jpg").read_bytes(), "rocket.jpg", "image/jpeg")
    await api.wait_done(media_id)
    command = [
        # The module, not the console script: a script's shebang names the interpreter it was installed with.
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{gateway_url}/api/v1/openapi.json",
        "--url",
        gateway_url,
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--header",
        f"Authorization: Bearer {api.token}",
        "--seed",
        os.environ.get("TROVE_TEST_FUZZ_SEED", "1414"),
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--output-truncate",
        "true",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "fuzz_hooks",
        "PYTHONPATH": os.pathsep.join([str(CONFIG.parent), os.environ.get("PYTHONPATH", "")]),
    }
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env=env
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=TIME_LIMIT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"schemathesis ran past {TIME_LIMIT_S} s") from None
    text = output.decode(errors="replace")
    print(text[-6000:])  # the summary and warnings, shown with -rP
    assert process.returncode == 0, text[-20000:]
