"""One builder per cached artefact across processes: an exclusive ``flock`` next to what is
built (a SynthVG folder, a detector, a feature cache entry). A second run that needs the same
artefact waits for the first and then finds it built; runs building different artefacts do
not wait for each other."""
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Iterator, Union

try:
    import fcntl
except ImportError:  # Windows: no cross-process lock (the atomic renames still hold)
    fcntl = None

__all__ = ["build_lock"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def build_lock(target: Union[str, Path]) -> Iterator[None]:
    """Hold the build lock of ``target`` (file ``.<name>.lock`` beside it); logs once when
    another process holds it and this one waits. The lock is released when the holder
    exits, however it exits (the kernel drops ``flock`` locks of a dead process)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    path = target.parent / f".{target.name}.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            start = time.monotonic()
            logger.info("waiting for another process (pid file %s) building %s", path, target)
            fcntl.flock(f, fcntl.LOCK_EX)
            logger.info("%s: the other build ended after %.0f s", target,
                        time.monotonic() - start)
        try:
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
