"""The offline sandbox: loopback servers that speak ASF's real protocols over a simulated Earth.

- `catalog`: the CMR granule search asf_search calls, plus SLC stand-in files;
- `hyp3`: the HyP3 API (jobs, credits, life cycle, faults) and its product files;
- `earth`: the simulated Earth that renders products with a known truth.

`Sandbox` (in `server`) runs them all on one port; `insarhub sandbox serve` (or `python -m insarhub_sandbox serve`) starts it.

A package of its own beside `insarhub`, which never imports it: the tests, the benchmarks and
the demo use it. From a checkout, `pip install -e ./sandbox` installs it.
"""
