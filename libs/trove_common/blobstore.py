"""Local blob storage: objects as files under one root, written and read through HMAC-signed, expiring URLs.

Files are private to the service user (0600, folders 0700). An object's derived files (its thumbnail, ...) are
named `<key>.<suffix>` beside it, so removing an object removes them too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

from trove_common.errors import ConflictError, InvalidArgumentError, NotFoundError, PermissionDeniedError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,254}$")
URL_PREFIX = "/blobs/"
_PLAIN_INT = re.compile(r"[0-9]{1,20}", re.ASCII)
FILE_MODE = 0o600
DIR_MODE = 0o700
USERS_PREFIX = "users/"


def upload_key(*, user_id: str, upload_id: str) -> str:
    """The storage key of an upload's bytes; never reused, since upload ids are not."""
    return f"{USERS_PREFIX}{user_id}/{upload_id}"


def parse_upload_key(key: str) -> tuple[str, str] | None:
    """(user id, upload id) of an upload's storage key, else None."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != USERS_PREFIX:
        return None
    try:
        user_id, upload_id = str(uuid.UUID(parts[1])), str(uuid.UUID(parts[2]))
    except ValueError:
        return None
    return (user_id, upload_id) if key == upload_key(user_id=user_id, upload_id=upload_id) else None


def object_of(filename: str) -> str:
    """The object a file in a folder belongs to: itself, or the object it was derived from or is being written as."""
    return filename.lstrip(".").split(".", 1)[0]


def thumbnail_key(storage_key: str) -> str:
    """Where a media file's thumbnail (a video's poster, a document's first page) is stored, beside the original."""
    return f"{storage_key}.thumb.jpg"


def frame_key(storage_key: str, frame: int) -> str:
    """Where a video's scene keyframe picture number `frame` (1-based) is stored, beside the original."""
    if frame < 1:
        raise InvalidArgumentError("frame numbers start at 1")
    return f"{storage_key}.frame{frame}.jpg"


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
        # ASCII digits only: str.isdigit() is also true of '١٢٣' and '²', which int() reads differently or not at all.
        if not _PLAIN_INT.fullmatch(expires) or not _PLAIN_INT.fullmatch(max_bytes):
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

    def _private_dirs(self, directory: Path) -> None:
        """Create `directory` and the folders from the root down to it, each 0700 (older ones are tightened)."""
        folders = [self._root]
        for part in directory.relative_to(self._root).parts:
            folders.append(folders[-1] / part)
        self._root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        for folder in folders:
            folder.mkdir(mode=DIR_MODE, exist_ok=True)
            if folder.stat().st_mode & 0o777 != DIR_MODE:
                folder.chmod(DIR_MODE)

    def open_temp(self, key: str) -> tuple[Path, Path]:
        """A temporary path beside the object's final path; rename it into place once fully written."""
        final = self.path(key)
        self._private_dirs(final.parent)
        return final.with_name(f".{final.name}.{os.getpid()}.{time.monotonic_ns()}.part"), final

    @staticmethod
    def create_file(path: Path) -> BinaryIO:
        """A new file (never an existing one) readable and writable by this user only."""
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb")

    @staticmethod
    def publish(temp: Path, final: Path, *, replace: bool) -> None:
        """Move a fully written temporary file into place; ConflictError if `final` exists and not `replace`."""
        if replace:
            os.replace(temp, final)
            return
        try:
            os.link(temp, final)  # atomic, and fails instead of overwriting
        except FileExistsError:
            raise ConflictError("the object was written before and cannot be written again") from None
        finally:
            temp.unlink(missing_ok=True)

    def write(self, key: str, data: bytes) -> None:
        """Write (or replace) a whole object, e.g. a derived file such as a thumbnail."""
        temp, final = self.open_temp(key)
        try:
            with self.create_file(temp) as fh:
                fh.write(data)
            self.publish(temp, final, replace=True)
        finally:
            temp.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        """Remove an object with its derived files (`<key>.<suffix>`) and half-written temporary files."""
        final = self.path(key)
        for path in self._family(final):
            path.unlink(missing_ok=True)

    def derived_bytes(self, key: str) -> int:
        """The bytes of the files derived from an object (`<key>.<suffix>`), without temporary files."""
        final = self.path(key)
        total = 0
        for path in self._family(final):
            if path.name.startswith(f"{final.name}."):
                try:
                    total += path.stat().st_size
                except FileNotFoundError:
                    continue
        return total

    def _family(self, final: Path) -> Iterator[Path]:
        name = final.name
        try:
            entries = list(final.parent.iterdir())
        except FileNotFoundError:
            return
        for path in entries:
            if path.name == name or path.name.startswith((f"{name}.", f".{name}.")):
                yield path

    def stale_user_files(self, user_id: str, *, modified_before: float) -> list[Path]:
        """The files in a user's folder (uploads, derived and temporary files) last modified before a unix time."""
        folder = self.path(f"{USERS_PREFIX}{user_id}")
        stale = []
        try:
            entries = list(folder.iterdir())
        except FileNotFoundError:
            return []
        for path in entries:
            try:
                info = path.lstat()
            except FileNotFoundError:  # removed meanwhile
                continue
            if stat.S_ISREG(info.st_mode) and info.st_mtime < modified_before:
                stale.append(path)
        return stale

    def user_folders(self) -> list[str]:
        """The user ids that have a folder."""
        try:
            folders = list((self._root / USERS_PREFIX).iterdir())
        except FileNotFoundError:
            return []
        return [p.name for p in folders if p.is_dir() and _is_uuid(p.name)]

    def _signature(self, method: str, key: str, expires: int, max_bytes: int) -> str:
        message = f"{method.upper()}\n{key}\n{expires}\n{max_bytes}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
