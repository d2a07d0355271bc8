"""Runs blocking model inference off the event loop, in one executor per process sized from settings."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class ModelExecutor:
    """A thread pool for ONNX/torch calls (they release the GIL); create at start-up, `shutdown` at stop."""

    def __init__(self, *, threads: int, name: str = "model") -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the threads; `wait=False` when one may never finish (the process is about to exit)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
