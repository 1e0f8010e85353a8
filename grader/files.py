"""Writing the grader's output files: whole or not at all, and never through a planted link.

Reports are written into folders others can write to (beside a submission, a class's
reports folder). A link planted at the report's name, or at any name the grader would use
for its temporary file, must not make the grader write somewhere else.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .textsafe import valid_unicode

FILE_MODE = 0o644


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) so that `path` is either the old file or the whole new one.

    The new content goes to a temporary file created in the same folder with a random name and
    O_CREAT|O_EXCL (`tempfile.mkstemp`), so no link at a predictable name is ever followed, and
    is then renamed onto `path`: a link planted at `path` is replaced, not written through.
    The temporary file is removed if anything fails. No fsync: what we guard against is the
    grader being interrupted or killed, after which the kernel still writes what it was given.
    """
    content = valid_unicode(data).encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), FILE_MODE)
            file.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
