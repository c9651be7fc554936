"""Progress of a long command: a redrawn bar on a terminal, plain periodic lines otherwise."""

import time


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Report `done` rows out of roughly `total` units of work (rows or bytes of input).

    `fraction` may come from another measure than rows (the bytes read of a file whose rows
    are not counted in advance); rows/s is always rows.
    """

    BAR_WIDTH = 30

    def __init__(self, stream, *, label: str, terminal: bool, interval: float | None = None):
        self.stream = stream
        self.label = label
        self.terminal = terminal
        self.interval = interval if interval is not None else (0.2 if terminal else 10.0)
        self.started = time.monotonic()
        self._last = self.started

    def update(self, done: int, fraction: float | None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = ""
        if fraction and 0 < fraction < 1:
            eta = f" ETA {_duration(elapsed / fraction - elapsed)}"
        if self.terminal:
            share = min(max(fraction or 0.0, 0.0), 1.0)
            filled = int(share * self.BAR_WIDTH)
            bar = "#" * filled + "." * (self.BAR_WIDTH - filled)
            # Back to the start of the line, and clear what a longer earlier line left there.
            self.stream.write(
                f"\r{self.label} [{bar}] {share:4.0%} {done:,} rows {rate:,.0f} rows/s{eta}\x1b[K",
                ending="",
            )
            self.stream.flush()
        else:
            percent = f" ({fraction:.0%})" if fraction is not None else ""
            self.stream.write(
                f"{self.label}: {done:,} rows{percent}, {rate:,.0f} rows/s, "
                f"{_duration(elapsed)} elapsed{eta}"
            )

    def finish(self, done: int) -> float:
        """Close the bar; return the elapsed seconds."""
        elapsed = time.monotonic() - self.started
        if self.terminal:
            self.update(done, 1.0, force=True)
            self.stream.write("")
        return elapsed
