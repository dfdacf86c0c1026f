"""Every configuration model a user builds, in one place (as the seed imports them).

    from insarhub.config import ISCE_S1_Config
    cfg = ISCE_S1_Config(workdir='p100_f466', bbox=[37.74, 38.00, -113.05, -112.68],
                         slc_dir='p100_f466/slc', dry_run=True)

- `ISCE_S1_Config`: local ISCE2 topsStack processing (`Processor.create('ISCE_S1', ...)`);
- `PairOptions`: pair-network selection (`select_pairs(**options)`), with the shared safe
  defaults `DEFAULT_MAX_DEGREE` (5 pairs per date) and `DEFAULT_NEW_DATE_NEIGHBOURS` (3);
- `GammaOptions`, `BurstOptions`: HyP3 job parameters (`Processor.create('Hyp3_S1', ...,
  looks='10x2')`);
- `NetworkOptions`, `Hyp3Options`, `IsceOptions`, `MintPyOptions`, `Point`, `PublishOptions`:
  the option groups of the Prefect flows (`insar_pipeline`, `monitor_aoi`) as the run form
  shows them (`insarhub.options`);
- `MonitorConfig` and its parts (`ScheduleConfig`, `WaitConfig`, `AlertConfig`,
  `PublishConfig`): one watched AOI, as the YAML files in `deployments/aois/` hold it.

The models are defined beside the code that uses them; this module is where users import them.
"""

from __future__ import annotations

from insarhub.monitoring import (
    AlertConfig,
    MonitorConfig,
    PublishConfig,
    ScheduleConfig,
    WaitConfig,
)
from insarhub.network.options import (
    DEFAULT_MAX_DEGREE,
    DEFAULT_NEW_DATE_NEIGHBOURS,
    NetworkOptions,
    PairOptions,
)
from insarhub.options import (
    Hyp3Options,
    IsceOptions,
    MintPyOptions,
    Point,
    PublishOptions,
)
from insarhub.processor.hyp3_jobs import BurstOptions, GammaOptions
from insarhub.processor.isce_config import ISCE_S1_Config

__all__ = [
    "DEFAULT_MAX_DEGREE", "DEFAULT_NEW_DATE_NEIGHBOURS", "AlertConfig", "BurstOptions",
    "GammaOptions", "Hyp3Options", "ISCE_S1_Config", "IsceOptions", "MintPyOptions",
    "MonitorConfig", "NetworkOptions", "PairOptions", "Point", "PublishConfig",
    "PublishOptions", "ScheduleConfig", "WaitConfig",
]
