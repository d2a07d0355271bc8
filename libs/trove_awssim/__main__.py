"""Run the simulator: python -m trove_awssim --port 4599 --s3-endpoint http://127.0.0.1:4598 [--access-key-id ID]."""

from __future__ import annotations

import argparse
import json
import logging
import socket
from pathlib import Path

import uvicorn

from trove_awssim.app import create_app
from trove_awssim.models import LocalModels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trove_awssim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port; see --port-file")
    parser.add_argument("--port-file", type=Path, help="written with the port once listening")
    parser.add_argument("--s3-endpoint", help="the S3 server (moto) Transcribe jobs read from and write to")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--access-key-id", help="the only access key accepted (default: any)")
    parser.add_argument(
        "--credentials-file",
        type=Path,
        help="JSON with access_key_id and secret_access_key: the key accepted, and the pair used with S3",
    )
    parser.add_argument("--throttle-first", type=int, default=0, help="refuse the first N calls with throttling")
    parser.add_argument("--model-dir", type=Path, default=Path.home() / ".cache" / "trove" / "models")
    parser.add_argument("--wordnet-dir", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads for Whisper"
    )  # model-dir: as scripts/models.sh assembles it
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    s3_credentials = None
    if args.credentials_file:
        pair = json.loads(args.credentials_file.read_text())
        s3_credentials = (pair["access_key_id"], pair["secret_access_key"])
        args.access_key_id = args.access_key_id or pair["access_key_id"]
    models = LocalModels(model_dir=args.model_dir, wordnet_dir=args.wordnet_dir, threads=args.threads)
    app = create_app(
        models=models,
        s3_endpoint=args.s3_endpoint,
        region=args.region,
        access_key_id=args.access_key_id,
        throttle_first=args.throttle_first,
        s3_credentials=s3_credentials,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    app.state.transcribe.self_url = f"http://{args.host}:{port}"
    if args.port_file:
        args.port_file.write_text(str(port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
