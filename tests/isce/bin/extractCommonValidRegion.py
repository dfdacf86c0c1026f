#!/usr/bin/env python3
"""Stand-in of ISCE2 topsStack extractCommonValidRegion.py for tests (insarhub-topsstack-standin); see _standin.py."""

import sys

from _standin import script_main

if __name__ == "__main__":
    sys.exit(script_main("extractCommonValidRegion.py", sys.argv[1:]))
