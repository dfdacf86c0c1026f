"""Submit pairs from a JSON file with a Hyp3S1Processor: a process for tests to SIGKILL.

    python submit_worker.py WORKDIR PAIRS_JSON BATCH_SIZE

HyP3 URL and token come from the environment (INSARHUB_HYP3_URL, EARTHDATA_TOKEN).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from insarhub import Processor
from insarhub.retry import RetryPolicy


def main() -> None:
    workdir, pairs_file, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pairs = [tuple(p) for p in json.loads(Path(pairs_file).read_text())]
    processor = Processor.create("Hyp3_S1", pairs=pairs, workdir=workdir, batch_size=batch_size,
                                 retry_policy=RetryPolicy(attempts=20, base_delay=0.05,
                                                          max_delay=0.5))
    print("submitting", flush=True)
    processor.submit()
    print("done", flush=True)


if __name__ == "__main__":
    main()
