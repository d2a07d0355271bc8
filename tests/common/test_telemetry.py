"""Spans still waiting in the batch reach the collector when a process stops on SIGTERM, as every Trove process
does (graceful stop, then interpreter exit, where the tracer provider flushes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from otlp_receiver import running_receiver

from trove_stack.config import REPO_ROOT, SERVICE_PATHS

# A process that makes one span, then waits for SIGTERM like `grpc_server.serve`; the batch would hold the span
# for a minute, so only the flush at exit can deliver it.
SCRIPT = """
import asyncio, signal, sys
from opentelemetry import trace
from trove_common.settings import OtelSettings
from trove_common.telemetry import setup_telemetry

setup_telemetry(service="probe", settings=OtelSettings(exporter="otlp", endpoint=sys.argv[1], export_delay_ms=60000))
with trace.get_tracer("probe").start_as_current_span("before-sigterm", attributes={"trove.request_id": "r-1"}):
    pass

async def main() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()

asyncio.run(main())
"""


def test_a_process_stopped_with_sigterm_sends_its_batched_spans(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TROVE_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / p) for p in SERVICE_PATHS)
    with running_receiver() as receiver:
        process = subprocess.Popen(
            [sys.executable, str(script), receiver.endpoint], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
            time.sleep(0.5)
            assert receiver.spans() == []  # still in the batch
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        (span,) = receiver.spans()
    assert (span.service, span.name, span.parent_span_id) == ("trove-probe", "before-sigterm", "")
    assert span.attributes == {"trove.request_id": "r-1"}


# A process without an exporter: its spans are not recorded, but still carry the ids logs and calls pass on.
UNEXPORTED = """
import json
from opentelemetry import trace
from opentelemetry.propagate import inject
from trove_common.settings import OtelSettings
from trove_common.telemetry import setup_telemetry

setup_telemetry(service="probe", settings=OtelSettings(), grpc_server=False)
tracer = trace.get_tracer("probe")
with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner") as inner:
    carrier = {}
    inject(carrier)
    print(json.dumps({
        "recording": [outer.is_recording(), inner.is_recording()],
        "valid": [outer.get_span_context().is_valid, inner.get_span_context().is_valid],
        "same_trace": outer.get_span_context().trace_id == inner.get_span_context().trace_id,
        "traceparent": carrier.get("traceparent", ""),
        "trace_id": format(inner.get_span_context().trace_id, "032x"),
    }))
"""


def test_without_an_exporter_spans_are_not_recorded_but_keep_their_ids(tmp_path: Path) -> None:
    script = tmp_path / "unexported.py"
    script.write_text(UNEXPORTED)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TROVE_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / p) for p in SERVICE_PATHS)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["recording"] == [False, False]
    assert seen["valid"] == [True, True] and seen["same_trace"]
    assert seen["traceparent"].split("-")[1] == seen["trace_id"]  # the id follows the call
