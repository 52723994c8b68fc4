"""Small file helpers: atomic writes (no reader ever sees a half-written file), an exclusive
lock for one writer per output, and safe loading of torch files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` atomically when the block ends
    without error: a temporary file in the same folder, fsync, then ``os.replace``. On an
    error (or ``KeyboardInterrupt``) the temporary file is removed and ``path`` is untouched; a
    ``kill -9`` can leave a ``.NAME.*.tmp`` file behind, never a half-written ``path``. The
    folder is created if needed.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
        >>> with atomic_writer(p) as fh:
        ...     _ = fh.write(b"hi")
        >>> p.read_bytes()
        b'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`).

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write_bytes(p, b"hi"); p.read_bytes()
        b'hi'
    """
    with atomic_writer(path) as fh:
        fh.write(data)


def leftover_temporaries(path: str | Path) -> list[Path]:
    """Temporary files :func:`atomic_writer` left for ``path`` when its process was killed."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, briefly)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def load_torch_file(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain containers only, never
    arbitrary Python objects (unpickling those can run code).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not one ``torch.load`` reads safely (damaged, not a torch
            file, or holding Python objects), in one line naming ``path``. torch's own advice
            to pass ``weights_only=False`` is left out: saliencyaug never loads that way.
    """
    import warnings

    import torch

    try:
        # torch warns about pickle protocols of files it then refuses: keep those for success
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = torch.load(path, map_location=map_location, weights_only=True)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return loaded
    except FileNotFoundError:
        raise
    except Exception as err:
        text = str(err)
        marker = "WeightsUnpickler error:"
        reason = (
            text.split(marker, 1)[1].strip().splitlines()[0]
            if marker in text
            else (text.strip().splitlines() or [type(err).__name__])[0]
        )
        raise ValueError(
            f"{path}: not a file of tensors that can be loaded safely ({type(err).__name__}: "
            f"{reason[:200]}); saliencyaug reads checkpoints with weights_only=True only"
        ) from None


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


class OutputLock:
    """An exclusive lock on ``path + ".lock"``, held while one process writes ``path``.

    A second process that tries to take it gets a ``RuntimeError`` at once (no waiting). The
    lock is an ``flock`` on the lock file, released by the kernel when the holder exits, even
    after ``kill -9``, so a crashed run never leaves a stale lock. The lock file is removed on
    a clean release.

    Args:
        path: the output the lock protects.
        what: words for messages (e.g. ``"saliencyaug boxes"``).

    Raises:
        RuntimeError: another process holds the lock.
        PermissionError / OSError: the lock file cannot be created (unwritable folder).

    Examples:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "boxes.jsonl"
        >>> with OutputLock(out):
        ...     (out.parent / "boxes.jsonl.lock").exists()
        True
    """

    def __init__(self, path: str | Path, what: str = "another process") -> None:
        self.path = Path(str(path) + ".lock")
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                holder = _read_pid(self.path)
                raise RuntimeError(
                    f"{self.path.with_suffix('')} is being written by {self.what}"
                    f"{f' (pid {holder})' if holder else ''}; wait for it to finish or choose "
                    "another output"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a lock file another holder removed while we waited
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
