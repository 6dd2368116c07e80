"""What a script shows its user: logging on rank 0 and one-line errors. Imports neither
torch nor the config system, so ``python evaluate.py --predictions`` starts fast."""
import logging
import os
import sys

__all__ = ["setup_logging", "one_line", "fail"]


def _rank() -> int:
    """This process's rank without importing torch (``$RANK`` before the process group
    exists; ``python evaluate.py --predictions`` never loads torch)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0))


def setup_logging(level=logging.INFO) -> None:
    """Log to stderr on rank 0 only (warnings and errors on every rank)."""
    logging.basicConfig(level=level if _rank() == 0 else logging.WARNING,
                        format="[%(asctime)s %(name)s] %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)


def one_line(error: BaseException) -> str:
    """The user-facing line of ``error``: its message, or, when it was re-raised from a
    data-loader worker (a message holding the worker's traceback), that message's last line
    without the exception's class name."""
    lines = [ln for ln in str(error).strip().splitlines() if ln.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(error).__name__
    name, sep, rest = lines[-1].partition(": ")
    return rest if sep and name.split(".")[-1].endswith("Error") else lines[-1]


def fail(msg: str, code: int = 2) -> None:
    """Print a one-line error and exit."""
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)
