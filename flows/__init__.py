"""Prefect flows: the pipeline, interferogram subflows, AOI monitoring, demo and server."""
