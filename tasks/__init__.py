"""Prefect tasks: thin wrappers over insarhub, one per stage."""
