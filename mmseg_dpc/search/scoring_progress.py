"""Progress of a cheap stage scoring many cells in one process (one-shot
scores, zero-cost scores), reported after each cell."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ScoringProgress:
    """Where a scoring run stands after ``done`` of ``total`` cells."""
    done: int
    total: int
    elapsed_s: float
    #: branch computations served by a memo / computed (one-shot scoring)
    memo_hits: int = 0
    memo_misses: int = 0

    @property
    def cells_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> Optional[float]:
        """Seconds left at the rate so far (None before the first cell)."""
        if self.done == 0:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)
