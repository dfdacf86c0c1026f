"""`IsceSBASAnalyzer`: MintPy SBAS time series of an ISCE2 topsStack work directory.

```python
a = Analyzer.create('ISCE_SBAS', workdir='p100_f466')   # reads p100_f466/isce/merged/...
a.prep_data(); a.run()                                  # -> p100_f466/mintpy/velocity.h5 ...
```

The topsStack work directory is `<workdir>/isce` (what `ISCE_S1` writes) or `<workdir>` itself
when it holds `merged/`. MintPy loads it with `processor = isce` (its `prep_isce` runs inside
load_data):

    merged/interferograms/*/filt_fine.unw, filt_fine.cor, filt_fine.unw.conncomp (optional)
    merged/geom_reference/hgt.rdr, lat.rdr, lon.rdr, los.rdr, shadowMask.rdr (optional)
    reference/IW*.xml (metadata)   baselines/ (perpendicular baselines)

The data stay in radar coordinates: an AOI becomes a `mintpy.subset.yx` box (the pixels whose
lat/lon lookup falls inside it), and the reference point is a radar pixel of that box.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter

from insarhub.analyzer.base import BaseAnalyzer, OptionValue, PreparedInputs
from insarhub.analyzer.prep import Grid, ProductSetError
from insarhub.analyzer.reference import ReferencePoint
from insarhub.errors import ConfigError

log = logging.getLogger(__name__)

IFG_GLOB = ("merged", "interferograms", "*")
GEOMETRY_DIRS = ("merged/geom_reference", "merged/geometry")
REQUIRED_GEOMETRY = ("hgt.rdr", "lat.rdr", "lon.rdr", "los.rdr")


@dataclass
class TopsStackFiles:
    """The files of a topsStack work directory that MintPy loads."""

    isce_dir: Path
    pairs: list[str]  # "YYYYMMDD_YYYYMMDD"
    unw_files: list[Path]
    cor_files: list[Path]
    conncomp_files: list[Path]  # empty when not every pair has one
    geometry_dir: Path
    meta_file: Path
    baseline_dir: Path | None


def default_isce_dir(workdir: Path) -> Path:
    """`<workdir>/isce` (ISCE_S1's layout), else `<workdir>` when it is itself a topsStack dir."""
    nested = workdir / "isce"
    if (nested / "merged").is_dir() or not (workdir / "merged").is_dir():
        return nested
    return workdir


def find_topsstack(isce_dir: Path) -> TopsStackFiles:
    """Check and list a topsStack work directory; ProductSetError says what is missing."""
    if not isce_dir.is_dir():
        raise ProductSetError(f"no topsStack work directory at {isce_dir}: run ISCE_S1 "
                              "(Processor.create('ISCE_S1', ...).submit()) until it finishes")
    folders = sorted(p for p in isce_dir.joinpath(*IFG_GLOB[:-1]).glob("*_*") if p.is_dir())
    done = [f for f in folders if (f / "filt_fine.unw.xml").is_file()
            and (f / "filt_fine.cor.xml").is_file()]
    if not done:
        raise ProductSetError(f"no unwrapped interferogram (filt_fine.unw with .xml) in "
                              f"{isce_dir / 'merged' / 'interferograms'}: the topsStack unwrap step "
                              "has not finished (ISCE_S1.refresh() shows where it stands)")
    unfinished = [f.name for f in folders if f not in done]
    if unfinished:
        log.warning("ignoring %d interferogram folder(s) without filt_fine.unw/.cor: %s",
                    len(unfinished), ", ".join(unfinished[:5]))
    geometry = next((isce_dir / d for d in GEOMETRY_DIRS if (isce_dir / d / "hgt.rdr").is_file()),
                    None)
    if geometry is None:
        raise ProductSetError(f"no geometry (merged/geom_reference/hgt.rdr) in {isce_dir}: the "
                              "topsStack merge step has not finished")
    missing = [n for n in REQUIRED_GEOMETRY if not (geometry / f"{n}.xml").is_file()]
    if missing:
        raise ProductSetError(f"geometry files missing in {geometry}: {', '.join(missing)}")
    metas = sorted((isce_dir / "reference").glob("IW*.xml"))
    if not metas:
        raise ProductSetError(f"no reference/IW*.xml in {isce_dir}: the topsStack reference "
                              "step (run_01_unpack_topo_reference) has not run")
    conncomp = [f / "filt_fine.unw.conncomp" for f in done]
    baselines = isce_dir / "baselines"
    return TopsStackFiles(
        isce_dir=isce_dir, pairs=[f.name for f in done],
        unw_files=[f / "filt_fine.unw" for f in done], cor_files=[f / "filt_fine.cor" for f in done],
        conncomp_files=conncomp if all(c.with_name(c.name + ".xml").is_file() for c in conncomp)
        else [],
        geometry_dir=geometry, meta_file=metas[0],
        baseline_dir=baselines if baselines.is_dir() else None)


def _read(path: Path, dataset: str | None = None) -> np.ndarray:
    from mintpy.utils import readfile

    try:
        return np.asarray(readfile.read(str(path), datasetName=dataset)[0])
    except Exception as exc:  # MintPy raises several kinds for unreadable files
        raise ProductSetError(f"{path} is unreadable ({exc})") from exc


class IsceSBASAnalyzer(BaseAnalyzer):
    """MintPy on the outputs of ISCE2 topsStack (`ISCE_S1`) in `<workdir>/isce`."""

    processor = "isce"

    def __init__(self, workdir: str | Path, aoi: object = None,
                 reference_point: tuple[float, float] | None = None,
                 mintpy_options: Mapping[str, OptionValue] | None = None, *,
                 isce_dir: str | Path | None = None, mintpy_dir: str | Path | None = None,
                 full_inversion_every: int | None = None) -> None:
        super().__init__(workdir, aoi, reference_point, mintpy_options, mintpy_dir=mintpy_dir,
                         full_inversion_every=full_inversion_every)
        self.isce_dir = Path(isce_dir) if isce_dir else default_isce_dir(self.workdir)
        self.stack: TopsStackFiles | None = None
        self.subset: tuple[int, int, int, int] | None = None  # row0, row1, col0, col1

    def prepare_inputs(self) -> PreparedInputs:
        self.stack = stack = find_topsstack(self.isce_dir.absolute())
        lat = _read(stack.geometry_dir / "lat.rdr")
        lon = _read(stack.geometry_dir / "lon.rdr")
        row0, row1, col0, col1 = self.subset = self._subset_box(lat, lon)
        geom = stack.geometry_dir
        ifgs = stack.isce_dir / "merged" / "interferograms" / "*"
        load = {
            "mintpy.load.unwFile": str(ifgs / "filt_fine.unw"),
            "mintpy.load.corFile": str(ifgs / "filt_fine.cor"),
            "mintpy.load.connCompFile": str(ifgs / "filt_fine.unw.conncomp")
            if stack.conncomp_files else "no",
            "mintpy.load.demFile": str(geom / "hgt.rdr"),
            "mintpy.load.lookupYFile": str(geom / "lat.rdr"),
            "mintpy.load.lookupXFile": str(geom / "lon.rdr"),
            "mintpy.load.incAngleFile": str(geom / "los.rdr"),
            "mintpy.load.azAngleFile": str(geom / "los.rdr"),
            "mintpy.load.shadowMaskFile": str(geom / "shadowMask.rdr")
            if (geom / "shadowMask.rdr.xml").is_file() else "no",
            "mintpy.load.waterMaskFile": str(geom / "waterMask.rdr")
            if (geom / "waterMask.rdr.xml").is_file() else "no",
            "mintpy.load.metaFile": str(stack.meta_file),
            "mintpy.load.baselineDir": str(stack.baseline_dir) if stack.baseline_dir else "no",
        }
        if (row0, row1, col0, col1) != (0, lat.shape[0], 0, lat.shape[1]):
            load["mintpy.subset.yx"] = f"{row0}:{row1},{col0}:{col1}"
        # radar coordinates: a pixel grid (epsg 0) of the loaded (subset) size
        grid = Grid(epsg=0, x0=float(col0), y0=float(-row0), dx=1.0, dy=1.0,
                    width=col1 - col0, length=row1 - row0)
        return PreparedInputs(grid=grid, unw_files=stack.unw_files, cor_files=stack.cor_files,
                              water_mask=None, load_options=load, pairs=stack.pairs)

    def _subset_box(self, lat: np.ndarray, lon: np.ndarray) -> tuple[int, int, int, int]:
        """The radar rows/cols whose lookup lat/lon fall in the AOI's bounds (all without AOI)."""
        if self.aoi is None:
            return 0, lat.shape[0], 0, lat.shape[1]
        west, south, east, north = self.aoi.bounds
        inside = (lat >= south) & (lat <= north) & (lon >= west) & (lon <= east)
        if not inside.any():
            valid = (lat != 0) & (lon != 0)
            raise ConfigError(
                f"aoi (W {west:.4f}, S {south:.4f}, E {east:.4f}, N {north:.4f}) does not overlap the "
                f"interferograms, which cover lat {lat[valid].min():.4f}..{lat[valid].max():.4f}, "
                f"lon {lon[valid].min():.4f}..{lon[valid].max():.4f}")
        rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
        return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1

    def choose_reference(self, inputs: PreparedInputs) -> ReferencePoint:
        """A radar pixel of the subset: the user's lat/lon (nearest lookup pixel) or automatic.

        The point of an earlier prep is kept while the interferograms new since are valid there.
        """
        assert self.stack is not None and self.subset is not None
        kept = self._earlier_reference(inputs)
        if kept is not None:
            return kept
        row0, row1, col0, col1 = self.subset
        box = (slice(row0, row1), slice(col0, col1))
        lat = _read(self.stack.geometry_dir / "lat.rdr")[box]
        lon = _read(self.stack.geometry_dir / "lon.rdr")[box]
        mean_coh = np.zeros(lat.shape)
        valid = np.ones(lat.shape, dtype=bool)
        for unw, cor in zip(self.stack.unw_files, self.stack.cor_files, strict=True):
            phase = _read(unw, "phase")[box]
            valid &= np.isfinite(phase) & (phase != 0)
            mean_coh += np.nan_to_num(_read(cor)[box])
        for conncomp in self.stack.conncomp_files:
            valid &= _read(conncomp)[box] > 0
        mean_coh /= len(self.stack.unw_files)
        if self.reference_point is not None:
            return self._requested(lat, lon, mean_coh, valid, self.reference_point)
        score = uniform_filter(np.where(valid, mean_coh, 0.0), size=5, mode="constant")
        score[~valid] = -1.0
        length, width = score.shape
        inner = np.full(score.shape, -1.0)
        mr, mc = max(2, length // 10), max(2, width // 10)
        inner[mr:length - mr, mc:width - mc] = score[mr:length - mr, mc:width - mc]
        candidates = inner if inner.max() > 0 else score
        if candidates.max() <= 0:
            raise ProductSetError("no pixel has valid phase in every interferogram: cannot choose a "
                                  "reference point (check the unwrapping: filt_fine.unw.conncomp)")
        row, col = (int(v) for v in np.unravel_index(int(np.argmax(candidates)), score.shape))
        return ReferencePoint(row, col, float(lat[row, col]), float(lon[row, col]),
                              float(mean_coh[row, col]), automatic=True)

    def _earlier_reference(self, inputs: PreparedInputs) -> ReferencePoint | None:
        previous = self.summary().get("reference_point") or {}
        if not previous or (self.reference_point is None) != bool(previous.get("automatic")):
            return None
        if self.reference_point is not None and (previous.get("lat"), previous.get("lon")) != tuple(
                self.reference_point):
            return None
        unw, _ = self.unchecked_files(inputs)
        if len(unw) == len(inputs.unw_files):
            return None  # nothing checked before: choose afresh
        assert self.subset is not None
        row0, _, col0, _ = self.subset
        try:
            point = ReferencePoint(**previous)
        except TypeError:
            return None
        for path in unw:
            phase = _read(path, "phase")[row0 + point.row, col0 + point.col]
            if not np.isfinite(phase) or phase == 0:
                log.info("the earlier reference point has no valid phase in %s; choosing again", path)
                return None
        return point

    @staticmethod
    def _requested(lat: np.ndarray, lon: np.ndarray, mean_coh: np.ndarray, valid: np.ndarray,
                   point: tuple[float, float]) -> ReferencePoint:
        want_lat, want_lon = point
        scale = math.cos(math.radians(want_lat))
        distance = np.hypot(lat - want_lat, (lon - want_lon) * scale)
        row, col = (int(v) for v in np.unravel_index(int(np.argmin(distance)), distance.shape))
        spacing = max(abs(float(np.diff(lat, axis=0).mean())), abs(float(np.diff(lon, axis=1).mean()))
                      * scale, 1e-6)
        if distance[row, col] > 2 * spacing:
            raise ConfigError(
                f"reference_point (lat={want_lat}, lon={want_lon}) is outside the data, which cover "
                f"lat {lat.min():.4f}..{lat.max():.4f}, lon {lon.min():.4f}..{lon.max():.4f}")
        if not valid[row, col]:
            raise ConfigError(f"reference_point (lat={want_lat}, lon={want_lon}) falls on a pixel "
                              "without valid unwrapped phase in every interferogram; choose a point "
                              "on stable, coherent land")
        return ReferencePoint(row, col, float(lat[row, col]), float(lon[row, col]),
                              float(mean_coh[row, col]), automatic=False)
