"""Atomic replacement of a file: model files and the command line's output tables.

The new content is written to a temporary file in the target's folder, flushed and
``fsync``-ed, then moved over the target with :func:`os.replace`, so a crash leaves either
the old file or the new one, never a partial file.  Errors name the user's path and the fix,
never the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PathLike = str | os.PathLike[str]


def check_writable(target: Path, what: str, example: str) -> None:
    """Fail with a clear message if ``target`` is a folder or its folder does not exist.

    ``what`` names the content (``"the model"``), ``example`` a file name for the hint.
    """
    if target.is_dir():
        raise IsADirectoryError(
            f"Cannot write {what} to {target}: it is a folder. Name a file inside it, "
            f"e.g. {target / example}."
        )
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot write {what} to {target}: there is no folder {folder}. Create it first "
            "(mkdir -p, os.makedirs), or choose another path."
        )


def fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temporary(target: Path, what: str) -> tuple[int, Path]:
    """A new file next to ``target``, created with the usual permissions (umask applies)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:  # name the user's path, not the temporary one
            reason = exc.strerror or type(exc).__name__
            raise type(exc)(
                f"Cannot write {what} to {target}: {reason.lower()} in its folder "
                f"{target.parent}. Choose a folder you can write to."
            ) from None
    raise FileExistsError(f"Could not create a temporary file next to {target}.")


@contextlib.contextmanager
def replaced_atomically(
    path: PathLike, what: str = "the file", example: str = "out"
) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` once the block completes without error.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (created, or replaced whole).
    what : str
        What is written, for messages (``"the model"``).
    example : str
        A file name suggested when ``path`` is a folder.

    Raises
    ------
    IsADirectoryError, FileNotFoundError, PermissionError
        Before anything is written, naming ``path`` and the fix.
    """
    target = Path(os.fspath(path))
    check_writable(target, what, example)
    fd, tmp = _create_temporary(target, what)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_directory(target.parent)
