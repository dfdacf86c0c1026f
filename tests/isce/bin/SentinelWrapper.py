#!/usr/bin/env python3
"""Stand-in of ISCE2 topsStack SentinelWrapper.py for tests (insarhub-topsstack-standin); see _standin.py."""

import sys

from _standin import sentinel_wrapper_main

if __name__ == "__main__":
    sys.exit(sentinel_wrapper_main(sys.argv[1:]))
