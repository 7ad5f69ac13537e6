"""Where numba keeps the compiled to-RGB loops, chosen before numba is first imported.

numba's default is a ``__pycache__`` beside the source, inside the installed package.
pip's record of the install does not list those files, so an uninstall (or an editable
install replacing a regular one) leaves them behind, and the folder they sit in then
shadows the new install as a namespace package. A read-only install (system-wide, or a
container run as another user) cannot hold them at all. They go instead to the user's
cache folder (``platformdirs``: ``~/.cache/colorize-archive/numba`` on Linux), or a
private folder under the temporary directory if that is not writable; a
``NUMBA_CACHE_DIR`` the user set wins. With nowhere writable, the loops are compiled
afresh in each process (a few seconds) rather than failing.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "colorize-archive"


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _choose() -> Path | None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        candidates = [Path(os.environ["NUMBA_CACHE_DIR"])]
    else:
        user = f"{os.getuid()}" if hasattr(os, "getuid") else "user"
        candidates = [
            Path(platformdirs.user_cache_dir(APP_NAME)) / "numba",
            Path(tempfile.gettempdir()) / f"{APP_NAME}-{user}" / "numba",
        ]
    return next((c for c in candidates if _writable(c)), None)


CACHE_DIR = _choose()
# numba reads the variable when it is imported, and again when it sees it change
if CACHE_DIR is not None:
    os.environ["NUMBA_CACHE_DIR"] = str(CACHE_DIR)
    if "numba.core.config" in sys.modules:  # imported before this module: make it look
        sys.modules["numba.core.config"].reload_config()
# whether compiled functions may be cached at all (``cache=`` of ``numba.njit``)
CACHE = CACHE_DIR is not None
