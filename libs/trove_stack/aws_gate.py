"""An AWS simulator on loopback: moto's server behind a gate that checks requests the way AWS does.

moto answers the AWS APIs but accepts any credentials and never looks at a presigned URL's expiry or signed
headers. The gate in front of it verifies every request's Signature Version 4 (header or query form) with the one
credential pair it is given, so a wrong key or secret is refused (InvalidAccessKeyId, SignatureDoesNotMatch), an
expired presigned URL is refused (AccessDenied, "Request has expired"), and a PUT whose Content-Length differs
from the one signed into its URL fails its signature, as on S3. CORS preflights pass unsigned, as on S3.

Run: python -m trove_stack.aws_gate --host 127.0.0.1 --port 9000 --credentials-file <json with access_key_id and
secret_access_key> (a file keeps the secret out of `ps`).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
# A header-signed request older or newer than this is refused, as AWS does (RequestTimeTooSkewed).
MAX_SKEW_S = 15 * 60

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class GateError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _header(environ: Environ, name: str) -> str | None:
    lname = name.lower()
    if lname == "content-type":
        value = environ.get("CONTENT_TYPE")
    elif lname == "content-length":
        value = environ.get("CONTENT_LENGTH")
    else:
        value = environ.get("HTTP_" + lname.upper().replace("-", "_"))
    return None if value is None else str(value)


def _canonical_uri(environ: Environ) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0] or "/"
    return quote(environ.get("PATH_INFO", "") or "/", safe="/~")


def _canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


class SigV4Gate:
    """WSGI middleware: only requests signed with `access_key_id`/`secret_access_key` reach `app`."""

    def __init__(self, app: WsgiApp, *, access_key_id: str, secret_access_key: str) -> None:
        self._app = app
        self._key_id = access_key_id
        self._secret = secret_access_key

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            if environ.get("REQUEST_METHOD") != "OPTIONS":  # CORS preflights carry no credentials
                self._verify(environ)
        except GateError as exc:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{exc.code}</Code><Message>{exc.message}</Message></Error>"
            ).encode()
            if environ.get("REQUEST_METHOD") == "HEAD":  # as S3: the status alone
                body = b""
            start_response(
                f"{exc.status} Forbidden" if exc.status == 403 else f"{exc.status} Bad Request",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(body))), *self._cors(environ)],
            )
            return [body]
        return self._app(environ, start_response)

    @staticmethod
    def _cors(environ: Environ) -> list[tuple[str, str]]:
        # So a browser can read why its upload was refused (S3 adds these to errors on a CORS-enabled bucket too).
        origin = _header(environ, "origin")
        return [("Access-Control-Allow-Origin", origin)] if origin else []

    def _verify(self, environ: Environ) -> None:
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params = dict(query)
        if "X-Amz-Signature" in params:
            self._verify_query(environ, query, params)
            return
        authorization = _header(environ, "authorization")
        if not authorization or not authorization.startswith(ALGORITHM + " "):
            raise GateError("AccessDenied", "Anonymous access is forbidden: sign the request (SigV4)")
        fields = dict(
            part.strip().split("=", 1) for part in authorization[len(ALGORITHM) + 1 :].split(",") if "=" in part
        )
        amz_date = _header(environ, "x-amz-date") or ""
        try:
            at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise GateError("AccessDenied", "X-Amz-Date is missing or malformed") from None
        if abs(time.time() - at) > MAX_SKEW_S:
            raise GateError("RequestTimeTooSkewed", "The difference between the request time and now is too large")
        payload = _header(environ, "x-amz-content-sha256") or self._body_hash(environ)
        self._check(
            environ,
            credential=fields.get("Credential", ""),
            signed_headers=fields.get("SignedHeaders", ""),
            signature=fields.get("Signature", ""),
            amz_date=amz_date,
            query=query,
            payload=payload,
        )

    def _verify_query(self, environ: Environ, query: list[tuple[str, str]], params: dict[str, str]) -> None:
        amz_date = params.get("X-Amz-Date", "")
        try:
            at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
            expires_s = int(params.get("X-Amz-Expires", ""))
        except ValueError:
            raise GateError("AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed") from None
        if time.time() > at + expires_s:
            raise GateError("AccessDenied", "Request has expired")
        self._check(
            environ,
            credential=params.get("X-Amz-Credential", ""),
            signed_headers=params.get("X-Amz-SignedHeaders", ""),
            signature=params["X-Amz-Signature"],
            amz_date=amz_date,
            query=[(k, v) for k, v in query if k != "X-Amz-Signature"],
            payload="UNSIGNED-PAYLOAD",
        )

    def _check(
        self,
        environ: Environ,
        *,
        credential: str,
        signed_headers: str,
        signature: str,
        amz_date: str,
        query: list[tuple[str, str]],
        payload: str,
    ) -> None:
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise GateError("AuthorizationHeaderMalformed", "the Credential is malformed", status=400)
        key_id, date, region, service, _ = parts
        if key_id != self._key_id:
            raise GateError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        names = signed_headers.split(";") if signed_headers else []
        if "host" not in names:
            raise GateError("AccessDenied", "the host header must be signed")
        lines = []
        for name in names:
            value = _header(environ, name)
            if value is None:
                raise GateError("SignatureDoesNotMatch", f"the signed header {name} is missing")
            lines.append(f"{name}:{' '.join(value.split())}\n")
        canonical = "\n".join(
            [
                environ.get("REQUEST_METHOD", "GET"),
                _canonical_uri(environ),
                _canonical_query(query),
                "".join(lines),
                signed_headers,
                payload,
            ]
        )
        scope = f"{date}/{region}/{service}/aws4_request"
        to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        expected = hmac.new(signing_key(self._secret, date, region, service), to_sign.encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), signature):
            raise GateError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )

    @staticmethod
    def _body_hash(environ: Environ) -> str:
        """sha256 of the body (services other than S3 send no x-amz-content-sha256); the body is kept for moto."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return hashlib.sha256(body).hexdigest()


def read_credentials(path: Path) -> tuple[str, str]:
    data = json.loads(path.read_text())
    return str(data["access_key_id"]), str(data["secret_access_key"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--credentials-file", type=Path, required=True)
    args = parser.parse_args(argv)
    # Imported here: moto is a test and simulator dependency, never loaded by the services.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    key_id, secret = read_credentials(args.credentials_file)
    app = SigV4Gate(DomainDispatcherApplication(create_backend_app), access_key_id=key_id, secret_access_key=secret)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"AWS simulator on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
