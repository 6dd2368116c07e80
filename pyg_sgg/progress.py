"""Progress of a long loop: a tqdm bar on a terminal, else a log line every ``every_s``
seconds (count, rate, time left), so that a build run under nohup, CI or a scheduler shows
that it is alive and how long it will take."""
import logging
import sys
import time
from typing import Iterator

__all__ = ["progress"]

logger = logging.getLogger("pyg_sgg.progress")


def progress(n: int, desc: str, enabled: bool = True, every_s: float = 30.0) -> Iterator[int]:
    """``range(n)``, reported: a tqdm bar when stderr is a terminal, else ``desc: i / n
    (r/s, about t s left)`` logged at most every ``every_s`` seconds and once at the end."""
    if not enabled:
        return iter(range(n))
    if sys.stderr.isatty():
        from tqdm import tqdm
        return iter(tqdm(range(n), desc=desc, dynamic_ncols=True))
    return _logged(n, desc, every_s)


def _logged(n: int, desc: str, every_s: float) -> Iterator[int]:
    start = last = time.monotonic()
    for i in range(n):
        yield i
        now = time.monotonic()
        if now - last >= every_s or i + 1 == n:
            last = now
            rate = (i + 1) / max(now - start, 1e-9)
            logger.info("%s: %d / %d (%.1f/s, about %.0f s left)", desc, i + 1, n, rate,
                        (n - i - 1) / rate)
