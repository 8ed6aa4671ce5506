"""`--collect-every`: `storage collect` in-process on a timer. One run at a time (a single thread, and collect's
own per-context lock against a cron beside it); after a failure the next run waits longer (twice the interval
per failure in a row, at most 8 times), back to the interval after a success. Its state is in /metrics."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BACKOFF = 8


@dataclass
class CollectState:
    interval: float
    runs: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    samples_written: int = 0
    last_success: float | None = None  # wall clock
    last_duration: float | None = None
    last_error: str | None = None  # the error's one line (never a token: errors are built redacted)
    next_run: float | None = None  # wall clock
    running: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def delay(self) -> float:
        """Seconds to the next run: the interval, or the backoff after failures, with +-10 % jitter."""
        factor = min(2**self.consecutive_failures, MAX_BACKOFF) if self.consecutive_failures else 1
        return self.interval * factor * (0.9 + 0.2 * random.random())


class Collector:
    """Runs `collect()` (which returns the samples written) now and then every interval, until stopped."""

    def __init__(self, interval: float, collect: Callable[[], int], after: Callable[[], None] = lambda: None) -> None:
        self.state = CollectState(interval=interval)
        self._collect = collect
        self._after = after  # e.g. drop the cached metrics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="upid-collect", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self) -> None:
        """One collect; its outcome is recorded in one step, so /metrics never shows half of it."""
        from upid.errors import UpidError

        s = self.state
        with s.lock:
            s.running = True
        started, wall = time.monotonic(), time.time()
        written, error = 0, None
        try:
            written = self._collect()
        except UpidError as e:
            error = e.message
        except Exception as e:  # a bug must not end the loop: counted, and tried again later
            error = f"unexpected {type(e).__name__}"
        with s.lock:
            if error is None:
                s.consecutive_failures = 0
                s.samples_written += written
                s.last_success = wall
            else:
                s.errors += 1
                s.consecutive_failures += 1
            s.last_error = error
            s.runs += 1
            s.running = False
            s.last_duration = time.monotonic() - started
            s.next_run = time.time() + s.delay()  # known before anyone sees this run's outcome
        self._after()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            with self.state.lock:
                pause = (self.state.next_run or 0) - time.time()
            self._stop.wait(max(0.0, pause))
