"""Blocks of the evaluator's work side by side in threads: numpy's reads, sorts, gathers and
ufuncs release the GIL, so the chunks of a predictions file run on every available core."""
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Optional, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_in_threads(fn: Callable[[T], R], items: Sequence[T],
                   threads: Optional[int] = None) -> Iterator[R]:
    """``fn`` of each item, in the items' order; ``threads`` at once (default: the available
    CPUs). With one thread (or one item) nothing is started and the results come lazily."""
    threads = min(len(items), available_cpus() if threads is None else max(1, int(threads)))
    if threads <= 1:
        return map(fn, items)
    with ThreadPoolExecutor(threads) as pool:
        return iter(list(pool.map(fn, items)))
