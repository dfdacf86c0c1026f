"""OPERA DISP-S1 as a source: offline frame database, download checks, and stacking into the
MintPy-style time series the products and alerts read (`insarhub.disp.stack`)."""
