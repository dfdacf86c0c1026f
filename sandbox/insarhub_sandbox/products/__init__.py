"""Product files in HyP3's and ISCE2's real layouts, rendered from the simulated Earth.

`geotiff` writes the raster layers; `format` the names, parameter `.txt` and zips; `multiburst`
the multi-burst products; `render` renders a finished job's products; `isce` topsStack outputs.
"""
