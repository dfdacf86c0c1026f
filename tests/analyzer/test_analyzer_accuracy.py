"""MintPy on the simulated Earth recovers the truth (noise-free) or does as well as an ideal fit."""

from __future__ import annotations

import h5py
import numpy as np
from analyzer_helpers import (
    ideal_velocity,
    land_mask,
    mintpy_velocity,
    rmse_mm,
    truth_velocity_on_grid,
)

from insarhub.analyzer.template import STEPS, read_template


def test_noise_free_velocity_matches_truth_within_0_1_mm_per_year(clean_run) -> None:
    analyzer, stack = clean_run
    truth = truth_velocity_on_grid(stack.workdir)
    velocity = mintpy_velocity(stack.workdir)
    mask = land_mask(stack.workdir) & np.isfinite(velocity) & (velocity != 0)
    assert mask.sum() > 0.8 * mask.size
    assert np.ptp(truth[mask]) > 0.02  # a real signal: the bowl spans > 20 mm/yr
    rmse = rmse_mm(velocity, truth, mask)
    print(f"noise-free velocity RMSE against the truth: {rmse:.5f} mm/yr")
    assert rmse < 0.1


def test_velocity_with_noise_within_1_5x_of_ideal_least_squares(noisy_run) -> None:
    analyzer, stack = noisy_run
    truth = truth_velocity_on_grid(stack.workdir)
    velocity = mintpy_velocity(stack.workdir)
    ideal = ideal_velocity(stack.workdir)
    mask = land_mask(stack.workdir) & np.isfinite(velocity) & (velocity != 0)
    ours, best = rmse_mm(velocity, truth, mask), rmse_mm(ideal, truth, mask)
    print(f"velocity RMSE against the truth: MintPy {ours:.2f} mm/yr, ideal per-pixel LS {best:.2f} mm/yr "
          f"(ratio {ours / best:.2f}) over {int(mask.sum())} pixels")
    assert ours > 0.5  # the noise is really there
    assert ours <= 1.5 * best


def test_every_step_ran_and_outputs_exist(clean_run) -> None:
    analyzer, stack = clean_run
    outputs = analyzer.outputs()
    assert {"velocity.h5", "timeseries.h5", "temporalCoherence.h5"} <= set(outputs)
    assert list(analyzer.last_run.steps) == list(STEPS)
    log_text = analyzer.log_file.read_text()
    assert "step done velocity" in log_text and "Normal end of smallbaselineApp" in log_text
    # clean data: MintPy 1.6.4 fails to plot an empty closure histogram; the step's data is kept
    assert "numTriNonzeroIntAmbiguity.h5 was written" in log_text
    with h5py.File(outputs["timeseries.h5"]) as f:
        assert f["timeseries"].shape[0] == len(stack.scenes)
    with h5py.File(stack.workdir / "mintpy" / "inputs" / "ifgramStack.h5") as f:
        assert f["unwrapPhase"].shape[0] == len(stack.products)


def test_template_suits_hyp3_products(clean_run) -> None:
    analyzer, stack = clean_run
    template = read_template(analyzer.template_file)
    assert template["mintpy.load.processor"] == "hyp3"
    assert template["mintpy.unwrapError.method"] == "no"
    assert template["mintpy.troposphericDelay.method"] == "no"  # no CDS credentials here
    assert template["mintpy.topographicResidual"] == "yes"
    assert template["mintpy.deramp"] == "no"
    assert template["mintpy.reference.yx"] == f"{analyzer.reference.row},{analyzer.reference.col}"
    assert template["mintpy.load.unwFile"].endswith("*_unw_phase_clip.tif")


def test_automatic_reference_point_is_coherent_land_away_from_edges(noisy_run) -> None:
    analyzer, stack = noisy_run
    ref = analyzer.reference
    grid = analyzer.inputs.grid
    assert ref.automatic
    assert 2 <= ref.row < grid.length - 2 and 2 <= ref.col < grid.width - 2
    assert land_mask(stack.workdir)[ref.row, ref.col]
    assert ref.coherence > 0.6
