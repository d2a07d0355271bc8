"""Trove's local sentence embedder behind OpenAI's embeddings protocol: `POST /v1/embeddings`, `GET /v1/models`.

Any OpenAI-compatible client can use it, Trove's own `openai` embedder provider included:

    python -m trove_ml.embed_server --host 127.0.0.1 --port 8091 [--model-dir FOLDER] [--api-key-file FILE]

Requests and answers follow https://platform.openai.com/docs/api-reference/embeddings: `input` is a string or
a list of up to 2048 strings (each cut to the model's token limit), `model` must be the served one (else 404
model_not_found), `dimensions` shortens the vectors (cut and re-normalised, as text-embedding-3 models do),
`encoding_format` is float or base64 (little-endian float32), and `usage` counts the tokens embedded. With a key
(the file, or TROVE_EMBED_API_KEY) every request must carry `Authorization: Bearer <key>` (else 401).
`--throttle-first N` answers the first N embedding requests with 429 and Retry-After, so clients' retry paths
can be exercised.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from trove_common.offload import ModelExecutor
from trove_ml.text_embedder import TextEmbedder

MAX_INPUTS = 2048
MAX_INPUT_CHARS = 100_000


@dataclass(slots=True)
class Traffic:
    """The embedding requests answered (`served`), and how many more to refuse with 429 (`throttle`, a test aid)."""

    throttle: int = 0
    refused: int = 0
    served: int = 0
    inputs: list[int] = field(default_factory=list)  # inputs per served request


def _error(status: int, message: str, *, code: str | None, param: str | None = None) -> JSONResponse:
    kind = {401: "invalid_request_error", 404: "invalid_request_error", 429: "rate_limit_exceeded"}
    body = {"error": {"message": message, "type": kind.get(status, "invalid_request_error"), "param": param}}
    body["error"]["code"] = code
    return JSONResponse(body, status_code=status)


class _BadRequest(Exception):
    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param


def _inputs(body: dict[str, Any]) -> list[str]:
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts:
        raise _BadRequest("'input' must be a non-empty string or a non-empty array of strings", param="input")
    if not all(isinstance(text, str) for text in texts):
        raise _BadRequest("'input' must hold strings; token arrays are not supported", param="input")
    if len(texts) > MAX_INPUTS:
        raise _BadRequest(f"'input' may hold at most {MAX_INPUTS} strings", param="input")
    if any(not text or len(text) > MAX_INPUT_CHARS for text in texts):
        raise _BadRequest(f"each input must be 1-{MAX_INPUT_CHARS} characters", param="input")
    return texts


def _dimensions(body: dict[str, Any], native: int) -> int:
    value = body.get("dimensions")
    if value is None:
        return native
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= native:
        raise _BadRequest(f"'dimensions' must be an integer from 1 to {native}", param="dimensions")
    return value


def _parse(body: dict[str, Any], *, native: int) -> tuple[list[str], int, str]:
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise _BadRequest("'encoding_format' must be float or base64", param="encoding_format")
    return _inputs(body), _dimensions(body, native), str(encoding)


def _encode(vector: npt.NDArray[np.float32], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


def create_app(
    embedder: TextEmbedder, *, executor: ModelExecutor, api_key: str = "", throttle_first: int = 0
) -> Starlette:
    """The ASGI app serving `embedder` under its model name (`embedder.model_name`); `app.state.traffic` counts."""
    traffic = Traffic(throttle=throttle_first)

    def authorised(request: Request) -> bool:
        if not api_key:
            return True
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), api_key.encode())

    async def embeddings(request: Request) -> JSONResponse:
        if not authorised(request):
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        if traffic.throttle > 0:
            traffic.throttle -= 1
            traffic.refused += 1
            response = _error(429, "Rate limit reached; try again shortly.", code="rate_limit_exceeded")
            response.headers["retry-after-ms"] = "50"
            response.headers["retry-after"] = "1"
            return response
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "The body must be a JSON object.", code=None)
        if not isinstance(body, dict):
            return _error(400, "The body must be a JSON object.", code=None)
        if body.get("model") != embedder.model_name:
            message = f"The model `{body.get('model')}` does not exist; this server has `{embedder.model_name}`."
            return _error(404, message, code="model_not_found", param="model")
        try:
            texts, dim, encoding = _parse(body, native=embedder.dim)
        except _BadRequest as exc:
            return _error(400, str(exc), code=None, param=exc.param)
        vectors = await executor.run(embedder.embed, texts)
        tokens = sum(await executor.run(embedder.count_tokens, texts))
        if dim < embedder.dim:
            vectors = vectors[:, :dim]
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(vector, encoding)}
            for i, vector in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        traffic.served += 1
        traffic.inputs.append(len(texts))
        return JSONResponse({"object": "list", "data": data, "model": embedder.model_name, "usage": usage})

    async def models(request: Request) -> JSONResponse:
        if not authorised(request):
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        model = {"id": embedder.model_name, "object": "model", "created": 0, "owned_by": "trove"}
        return JSONResponse({"object": "list", "data": [model]})

    app = Starlette(
        routes=[Route("/v1/embeddings", embeddings, methods=["POST"]), Route("/v1/models", models, methods=["GET"])]
    )
    app.state.traffic = traffic
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn  # here: importing this module (tests build the app themselves) needs no server

    parser = argparse.ArgumentParser(prog="python -m trove_ml.embed_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--model-dir", type=Path, default=None, help="a BERT sentence-transformers folder")
    parser.add_argument("--api-key-file", type=Path, default=None, help="require this bearer key (else none)")
    parser.add_argument("--threads", type=int, default=1, help="model threads")
    parser.add_argument("--throttle-first", type=int, default=0, help="answer the first N requests with 429")
    args = parser.parse_args(argv)
    api_key = args.api_key_file.read_text().strip() if args.api_key_file else os.environ.get("TROVE_EMBED_API_KEY", "")
    executor = ModelExecutor(threads=args.threads, name="embed-server")
    embedder = TextEmbedder(model_dir=args.model_dir.resolve() if args.model_dir else None)
    app = create_app(embedder, executor=executor, api_key=api_key, throttle_first=args.throttle_first)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        executor.shutdown()


if __name__ == "__main__":
    main()
