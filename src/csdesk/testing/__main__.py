"""``python -m csdesk.testing``: ``csdesk testing`` (needs the cli and testing extras)."""

from __future__ import annotations

import sys

from csdesk.scripts import main

if __name__ == "__main__":
    sys.exit(main(["testing", *sys.argv[1:]]))
