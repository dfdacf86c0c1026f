"""Sentinel-1 search: `Downloader` types `S1_SLC` and `S1_Burst`, stacks, filters, persistence."""
