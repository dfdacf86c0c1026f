"""What the notebook API shows its user, in one place.

The seed's API prints results: `search()` says what it found, `summary()` the stacks,
`refresh()` the job table, `save()` where the jobs went (the API page shows that output, and
tests/test_walkthrough.py reads it). Those display methods call `show`; everything else in the
library logs (`logging.getLogger(__name__)`), and tests/architecture checks that nothing else
prints.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)


def show(text: str) -> None:
    """`text` on standard output for the user (a notebook cell or a terminal), and in the
    debug log."""
    print(text, file=sys.stdout)
    log.debug("%s", text)
