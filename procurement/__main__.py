"""``python -m procurement``: the same command line as ``hscn-procure``."""

from __future__ import annotations

import sys

from procurement.cli import main

if __name__ == "__main__":
    sys.exit(main())
