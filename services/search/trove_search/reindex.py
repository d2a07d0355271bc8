"""Command line for re-indexing: python -m trove_search.reindex {start,status} [--wait] [--addr host:port].

It talks to the running search service over gRPC (the run itself happens there, in the background), so it
needs no database credentials; by default it reaches the address the service's own TROVE_SEARCH_GRPC__* name. It
calls with the service's own credential (TROVE_SEARCH_SERVICE_AUTH__TOKEN), which search trusts as an admin's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from google.protobuf import json_format

from trove_common.context import ADMIN_METADATA
from trove_common.grpc_client import ServiceCredential, make_channel
from trove_protos.search.v1 import search_pb2, search_pb2_grpc
from trove_search.settings import Settings


def _print(status: search_pb2.ReindexStatus) -> None:
    body = json_format.MessageToDict(
        status, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    print(json.dumps(body, indent=2), flush=True)


async def run(*, command: str, addr: str, credential: ServiceCredential, wait: bool, poll_s: float = 2.0) -> int:
    channel = make_channel(addr, credential=credential)
    try:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        if command == "start":
            status = await stub.StartReindex(search_pb2.StartReindexRequest(), timeout=30, metadata=ADMIN_METADATA)
        else:
            status = await stub.GetReindex(search_pb2.GetReindexRequest(), timeout=30, metadata=ADMIN_METADATA)
        _print(status)
        while wait and status.running:
            await asyncio.sleep(poll_s)
            status = await stub.GetReindex(search_pb2.GetReindexRequest(), timeout=30, metadata=ADMIN_METADATA)
            _print(status)
        # Nonzero when the last run stopped on an error and nothing runs now.
        return 1 if status.target.last_error and not status.running else 0
    finally:
        await channel.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trove_search.reindex", description=__doc__)
    parser.add_argument("command", choices=("start", "status"))
    parser.add_argument("--addr", help="the search service's gRPC host:port (default: from TROVE_SEARCH_GRPC__*)")
    parser.add_argument("--wait", action="store_true", help="print progress until the run ends")
    args = parser.parse_args(argv)
    settings = Settings()
    addr = args.addr or f"{settings.grpc.host}:{settings.grpc.port}"
    credential = ServiceCredential.of("search", settings.service_auth)
    return asyncio.run(run(command=args.command, addr=addr, credential=credential, wait=args.wait))


if __name__ == "__main__":
    sys.exit(main())
