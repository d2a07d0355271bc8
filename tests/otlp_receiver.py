"""A small OTLP/HTTP trace receiver for tests: it takes what the real exporters POST to /v1/traces and decodes it.

It speaks the protocol (protobuf `ExportTraceServiceRequest` bodies, gzip or not) with the opentelemetry-proto
package's own messages; it is a stand-in for a collector, not a copy of our code.
"""

from __future__ import annotations

import gzip
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

PATH = "/v1/traces"


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    """One exported span, with the `service.name` of the process that sent it; ids are hex."""

    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return None if which is None else getattr(value, which)


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one ExportTraceServiceRequest."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=str(resource.get("service.name", "")),
                        name=span.name,
                        kind=Span.SpanKind.Name(span.kind),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return spans


class TraceReceiver:
    """Keeps the raw request bodies (cheap while a whole suite exports) and decodes them when asked."""

    def __init__(self) -> None:
        self._bodies: list[bytes] = []
        self._decoded: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self.endpoint = ""

    def add(self, body: bytes) -> None:
        with self._lock:
            self._bodies.append(body)

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self._lock:
            bodies, self._bodies = self._bodies, []
            for body in bodies:
                self._decoded.extend(decode(body))
            return list(self._decoded)


def _handler(receiver: TraceReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != PATH or self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_error(404 if self.path != PATH else 415)
                return
            receiver.add(body)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _serve(server: ThreadingHTTPServer) -> None:
    """serve_forever, started again after an unexpected error (printed): the session's receiver must outlive one
    bad moment, and an error in its thread would otherwise fail whichever unrelated test was running."""
    while True:
        try:
            server.serve_forever()
        except Exception:
            traceback.print_exc()
            time.sleep(0.1)
            continue
        return


@contextmanager
def running_receiver() -> Iterator[TraceReceiver]:
    """A receiver on a free 127.0.0.1 port; its `endpoint` is the URL to give the exporters."""
    receiver = TraceReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.endpoint = f"http://127.0.0.1:{server.server_port}{PATH}"
    thread = threading.Thread(target=_serve, args=(server,), name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
