"""A progress bar on stderr for long simulations (no dependency)."""

from __future__ import annotations

import sys


class ProgressBar:
    """Redrawn in place on a terminal, a line per quarter otherwise, so logs stay readable."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done, self._shown = max(total, 1), label, 0, -1
        self.interactive = sys.stderr.isatty()

    def step(self, count: int = 1) -> None:
        self.done += count
        percent = min(100, 100 * self.done // self.total)
        step = 1 if self.interactive else 25
        if percent == self._shown or percent % step:
            return
        self._shown = percent
        bar = "#" * (percent // 4) + "." * (25 - percent // 4)
        end = "\n" if self.done >= self.total or not self.interactive else ""
        sys.stderr.write(f"\r{self.label:<24} [{bar}] {percent:3d}%{end}")
        sys.stderr.flush()

    def relabel(self, label: str) -> None:
        self.label = label
