"""Local blob storage: objects as files under one root, written and read through HMAC-signed, expiring URLs."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from trove_common.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,254}$")
URL_PREFIX = "/blobs/"


def thumbnail_key(storage_key: str) -> str:
    """Where a media file's thumbnail (a video's poster, a document's first page) is stored, beside the original."""
    return f"{storage_key}.thumb.jpg"


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    method: str
    expires_at: int  # unix seconds


class LocalBlobStore:
    """Files under `root`; `sign` makes URLs for the gateway's `/blobs/` route, which checks them with `verify`."""

    def __init__(self, *, root: Path, signing_key: str, public_url: str = "") -> None:
        self._root = root.resolve()
        self._key = signing_key.encode()
        self._public_url = public_url.rstrip("/")

    def path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise InvalidArgumentError(f"invalid object key {key!r}")
        return self._root / key

    def sign(self, *, key: str, method: str, ttl_s: int, max_bytes: int = 0) -> SignedUrl:
        """A URL allowing `method` on `key` until `ttl_s` from now; for PUT, at most `max_bytes` bytes."""
        self.path(key)  # validates the key
        expires = int(time.time() + ttl_s)
        signature = self._signature(method, key, expires, max_bytes)
        query = urlencode({"expires": expires, "max_bytes": max_bytes, "signature": signature})
        return SignedUrl(url=f"{self._public_url}{URL_PREFIX}{key}?{query}", method=method, expires_at=expires)

    def verify(self, *, key: str, method: str, expires: str, max_bytes: str, signature: str) -> int:
        """Check a signed URL's parameters; returns its byte limit. PermissionDeniedError unless ours and unexpired."""
        if not expires.isdigit() or not max_bytes.isdigit():
            raise PermissionDeniedError("the signed URL is malformed")
        expected = self._signature(method, key, int(expires), int(max_bytes))
        if not hmac.compare_digest(expected, signature):
            raise PermissionDeniedError("the URL signature does not match")
        if int(expires) < time.time():
            raise PermissionDeniedError("the signed URL has expired")
        return int(max_bytes)

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def read_head(self, key: str, n_bytes: int) -> bytes:
        try:
            with self.path(key).open("rb") as fh:
                return fh.read(n_bytes)
        except FileNotFoundError as exc:
            raise NotFoundError(f"object {key} does not exist") from exc

    def open_temp(self, key: str) -> tuple[Path, Path]:
        """A temporary path beside the object's final path; rename it into place once fully written."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.with_name(f".{final.name}.{os.getpid()}.{time.monotonic_ns()}.part"), final

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def _signature(self, method: str, key: str, expires: int, max_bytes: int) -> str:
        message = f"{method.upper()}\n{key}\n{expires}\n{max_bytes}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
