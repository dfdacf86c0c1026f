"""`Hyp3SBASAnalyzer`: MintPy SBAS time series from HyP3 INSAR_GAMMA / INSAR_ISCE_BURST products.

```python
a = Analyzer.create('Hyp3_SBAS', workdir='p100_f466')   # reads p100_f466/hyp3/*
a.prep_data(); a.run()                                  # -> p100_f466/mintpy/velocity.h5 ...
```
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from insarhub.analyzer.base import BaseAnalyzer, OptionValue, PreparedInputs
from insarhub.analyzer.prep import check_products, clip_products, find_products
from insarhub.errors import ConfigError

LOAD_KEYS = {  # MintPy load key -> clipped geometry layer
    "mintpy.load.demFile": "dem",
    "mintpy.load.incAngleFile": "lv_theta",
    "mintpy.load.azAngleFile": "lv_phi",
    "mintpy.load.waterMaskFile": "water_mask",
}


class Hyp3SBASAnalyzer(BaseAnalyzer):
    """MintPy on the HyP3 products downloaded to `<workdir>/hyp3/` (folders or zips)."""

    processor = "hyp3"

    def __init__(self, workdir: str | Path, aoi: object = None,
                 reference_point: tuple[float, float] | None = None,
                 mintpy_options: Mapping[str, OptionValue] | None = None, *,
                 hyp3_dir: str | Path | None = None, mintpy_dir: str | Path | None = None,
                 full_inversion_every: int | None = None,
                 clip_workers: int = 4) -> None:
        super().__init__(workdir, aoi, reference_point, mintpy_options, mintpy_dir=mintpy_dir,
                         full_inversion_every=full_inversion_every)
        self.hyp3_dir = Path(hyp3_dir).expanduser().absolute() if hyp3_dir else self.workdir / "hyp3"
        self.clip_workers = clip_workers
        self.job_type: str | None = None

    def prepare_inputs(self) -> PreparedInputs:
        products = check_products(find_products(self.hyp3_dir))
        self.job_type = products[0].job_type
        clipped = clip_products(products, self.mintpy_dir / "clipped", self.aoi, workers=self.clip_workers)
        load = {
            "mintpy.load.unwFile": str(clipped.directory / "*" / "*_unw_phase_clip.tif"),
            "mintpy.load.corFile": str(clipped.directory / "*" / "*_corr_clip.tif"),
        }
        for key, layer in LOAD_KEYS.items():
            if layer in clipped.geometry_files:
                load[key] = str(clipped.geometry_files[layer])
        return PreparedInputs(grid=clipped.grid, unw_files=clipped.unw_files, cor_files=clipped.cor_files,
                              water_mask=clipped.geometry_files.get("water_mask"), load_options=load,
                              pairs=[p.date12 for p in clipped.products])

    def default_options(self, inputs: PreparedInputs) -> dict[str, str]:
        # HyP3 products carry no connected components MintPy loads: no unwrap-error bridging
        return {"mintpy.unwrapError.method": "no"}

    def check_user_options(self, options: Mapping[str, str]) -> None:
        super().check_user_options(options)
        method = options.get("mintpy.unwrapError.method", "no").lower()
        if "bridging" in method:
            raise ConfigError(f"mintpy.unwrapError.method = {method} needs connected components, which "
                              "HyP3 products do not give MintPy; use 'no' or 'phase_closure'")
