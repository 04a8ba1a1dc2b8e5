"""Graceful stops: SIGINT / SIGTERM ask the training loop to finish its step and write ``last.pt``.

A second SIGINT (Ctrl-C twice) raises ``KeyboardInterrupt`` at once. Handlers can only be installed from
the main thread; elsewhere (a training loop run in a thread) signals keep their previous behaviour.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Context manager recording the first stop signal received while it is active.

    Attributes:
        signal_number: the signal that asked to stop, or ``None``.
    """

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal_number is not None

    @property
    def name(self) -> str | None:
        return signal.Signals(self.signal_number).name if self.signal_number is not None else None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal_number is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signal_number = signum
        log.warning("%s received: stopping after this step and writing last.pt", signal.Signals(signum).name)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous = {}
