"""Interferogram processors: ASF HyP3 (`hyp3`) and local ISCE2 topsStack (`isce`)."""
