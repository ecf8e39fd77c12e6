"""The ``csdesk`` command and the batch runners behind it.

This subpackage needs the ``cli`` extra (click and rich): ``pip install -e '.[cli]'`` from a
checkout. The rest of csdesk imports without it. `main` is the console script: without the extra
it says which to install and exits 2, where importing `csdesk.scripts.main` raises `ImportError`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``csdesk`` command; exit 2 with a message when the ``cli`` extra is missing."""
    try:
        from csdesk.scripts.main import main as run
    except ImportError as error:
        print(f"csdesk: {error}", file=sys.stderr)
        return 2
    return run(argv)
