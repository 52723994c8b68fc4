"""Box-search speed benchmark; same as ``saliencyaug bench box-search``.

Usage::

    python benchmarks/box_search.py            # full run (a few minutes on 2 cores)
    python benchmarks/box_search.py --quick    # smoke run
    python benchmarks/box_search.py --json out.json
"""

from __future__ import annotations

import sys

from saliencyaug.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "box-search", *sys.argv[1:]]))
