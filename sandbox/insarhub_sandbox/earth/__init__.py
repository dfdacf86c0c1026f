"""The simulated Earth: a known deformation field, DEM error, atmosphere and decorrelation.

`model` renders interferograms of any pair (and writes the truth beside them); `events` holds the
deformation events injected at known places and dates.
"""
