"""Fault injection for the crash-safety tests: SIGKILL at a named point of the pipeline.

DSR_FAULT_INJECT="crash_before_commit" (message received, transaction not committed) or
"crash_after_commit" (committed, reply not yet sent).  Read here and nowhere else; unset in every
real deployment.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

log = logging.getLogger(__name__)

FAULT_INJECT_ENV = "DSR_FAULT_INJECT"


def fault_hook_from_env(*, whole_service: bool = False) -> Callable[[str], None] | None:
    """The SIGKILL hook, or None (the normal case).  In a pipeline worker (`whole_service`) it
    kills the service process first, then the worker: the crash of the whole service."""
    point = os.environ.get(FAULT_INJECT_ENV, "").strip()
    if not point:
        return None
    log.warning("fault injection armed: the process will be killed at %r", point)

    def hook(reached: str) -> None:
        if reached == point:
            log.error("fault injection: SIGKILL at %s", reached)
            logging.shutdown()
            if whole_service:
                os.kill(os.getppid(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
