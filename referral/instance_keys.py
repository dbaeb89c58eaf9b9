"""Keys kept in files of the instance folder (mode 600) when the environment gives none: made
once with a random value, then read by every process of the app (the secret key that signs
sessions, the development keys of personal data)."""

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def read_or_make(path: Path, make: Callable[[], str] | None) -> str | None:
    """The key in ``path``; when there is none, ``make()``'s value written there first (or None
    when ``make`` is None). Two processes starting at once agree: the file appears whole (linked
    from a private temporary file) or not at all."""
    try:
        return _read_private(path)
    except FileNotFoundError:
        if make is None:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")  # mode 600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(make() + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read_private(path)


def _read_private(path: Path) -> str:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("%s was readable by others: made private (mode 600)", path)
        path.chmod(0o600)
    return path.read_text().strip()
