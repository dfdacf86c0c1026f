#!/usr/bin/env python3
"""Stand-in of ISCE2 topsStack stackSentinel.py for tests (insarhub-topsstack-standin); see _standin.py."""

import sys

from _standin import stack_sentinel_main

if __name__ == "__main__":
    sys.exit(stack_sentinel_main(sys.argv[1:]))
