"""What cloud providers' calls cost: each billable call is reported to the meter of the stage run that made it.

The provider protocols answer facts, not bills, and a provider serves many files at once; so the runner opens a
meter around one stage run (a context variable, which the tasks the provider starts inherit) and records the
calls reported into it in the ledger, each at billing's price for its service. A run that reports no call is a
local model's: its machine time is recorded instead. Calls made by a try that failed are recorded too: the
provider bills them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Call:
    """One billable call: `units` of billing's `service` (e.g. aws-rekognition-image: 1 image); `call` says which.

    `call_id` is unique to the call, so the ledger records it once however often it is reported, and a call made
    again (a retried stage) is a new call, as the provider bills it.
    """

    service: str
    units: float
    call: str
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_meter: ContextVar[list[Call] | None] = ContextVar("trove_meter", default=None)


@contextmanager
def metered() -> Iterator[list[Call]]:
    """A meter for the calls made inside the block; the list fills as providers report them."""
    calls: list[Call] = []
    token = _meter.set(calls)
    try:
        yield calls
    finally:
        _meter.reset(token)


def report(*, service: str, units: float, call: str) -> None:
    """Report a billable call to the current meter (outside of one, e.g. in a provider's own test, it is logged)."""
    calls = _meter.get()
    if calls is None:
        logger.info("unmetered provider call", extra={"service": service, "units": units, "call": call})
        return
    calls.append(Call(service=service, units=units, call=call))
