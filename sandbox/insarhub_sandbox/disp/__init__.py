"""OPERA DISP-S1 in the sandbox: frames over North America, ASF-shaped catalog records and
NetCDF products rendered from the same simulated Earth as the HyP3 products."""
