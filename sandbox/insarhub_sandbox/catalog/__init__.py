"""The sandbox's ASF catalog: the CMR granule search asf_search sends, over recorded and generated stacks.

`service` serves it; `stacks` and `bursts` generate the Utah stacks and their bursts; `umm` and
`burst_umm` render ASF's UMM records; `query` applies the CMR filters.
"""
