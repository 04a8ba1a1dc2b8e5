"""Choosing the intra-op thread count of the CPU probe decoder from its measured speed.

The decoder is many small operations (blocks of ~2,048 edges); with several OpenMP threads each one ends on a
barrier, and when the OS deschedules one of the threads (another process wants the core) every barrier waits
for it. On a 2-core machine shared with other work a 2-thread decode measured 10-60x slower than a 1-thread
one, while on a quiet machine 2 threads are ~1.7x faster. No setting is right for both, and the load changes
during a run, so :class:`ThreadGovernor` measures: pieces of a chunk are decoded with the best thread count so
far, and now and then a small piece with the other one; a trial that loses waits twice as long for the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ThreadGovernor:
    """Picks 1 or ``max_threads`` intra-op threads per decoder piece from seconds per edge.

    Args:
        max_threads: the most threads to use (torch's setting); 1 makes the governor a constant.
        first_retry: pieces decoded with the best count before the other one is tried again.
        max_retry: the longest wait between trials (trials that lose double the wait up to this).
        smoothing: weight of the newest measurement in each count's running cost.

    Attributes:
        cost: running seconds per edge of each thread count tried.
    """

    max_threads: int
    first_retry: int = 4
    max_retry: int = 128
    smoothing: float = 0.5
    cost: dict[int, float] = field(default_factory=dict)
    _retry: int = 0
    _since: int = 0

    def __post_init__(self) -> None:
        if self.max_threads < 1:
            raise ValueError(f"max_threads must be >= 1, got {self.max_threads}")
        self._retry = self.first_retry

    @property
    def candidates(self) -> tuple[int, ...]:
        return (1, self.max_threads) if self.max_threads > 1 else (1,)

    def best(self) -> int:
        """The thread count with the lowest cost so far (1 before any measurement)."""
        tried = [t for t in self.candidates if t in self.cost]
        return min(tried, key=self.cost.__getitem__) if tried else 1

    def choose(self) -> tuple[int, bool]:
        """``(threads, trial)`` for the next piece; a trial piece should be small."""
        untried = [t for t in self.candidates if t not in self.cost]
        if untried:
            return untried[0], untried[0] != 1  # 1 thread first: it never collapses
        if len(self.candidates) > 1 and self._since >= self._retry:
            other = next(t for t in self.candidates if t != self.best())
            return other, True
        return self.best(), False

    def record(self, threads: int, edges: int, seconds: float, trial: bool) -> None:
        """Account a decoded piece of ``edges`` edges that took ``seconds`` with ``threads`` threads."""
        best_before = self.best() if self.cost else None
        per_edge = seconds / max(edges, 1)
        old = self.cost.get(threads)
        self.cost[threads] = per_edge if old is None else (1 - self.smoothing) * old + self.smoothing * per_edge
        if not trial:
            self._since += 1
            return
        self._since = 0
        won = best_before is None or self.best() == threads
        self._retry = self.first_retry if won else min(2 * self._retry, self.max_retry)
