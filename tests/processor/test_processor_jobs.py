"""Job preparation: the same payloads as hyp3_sdk, valid per ASF's job specs, stable names."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from hyp3_sdk import HyP3

from insarhub.credits import job_cost
from insarhub.errors import ConfigError
from insarhub.processor.hyp3 import normalize_pairs
from insarhub.processor.hyp3_jobs import (
    INSAR_GAMMA,
    INSAR_ISCE_BURST,
    MAX_NAME_LENGTH,
    BurstOptions,
    GammaOptions,
    check_granule,
    job_name,
    make_options,
    prepare_insar_gamma_job,
    prepare_insar_isce_burst_job,
)

SLC_A = "S1A_IW_SLC__1SDV_20200102T133500_20200102T133527_030626_038260_1C8A"
SLC_B = "S1A_IW_SLC__1SDV_20200114T133459_20200114T133527_030801_038861_2D3F"
BURST_A = "S1_136231_IW2_20200604T022312_VV_7C85-BURST"
BURST_B = "S1_136231_IW2_20200616T022313_VV_5D11-BURST"


def golden(fixtures_dir: Path, name: str) -> list[dict[str, Any]]:
    text = (fixtures_dir / "hyp3-testing" / name).read_text().replace("{{ name }}", "golden")
    return list(json.loads(text))


def spec_parameters(fixtures_dir: Path, job_type: str) -> dict[str, Any]:
    spec = yaml.safe_load((fixtures_dir / "hyp3" / f"{job_type}.yml").read_text())
    return {k: v["api_schema"] for k, v in spec[job_type]["parameters"].items()}


def check_against_spec(params: dict[str, Any], schema: dict[str, Any]) -> None:
    for key, value in params.items():
        assert key in schema, f"{key} is not a parameter of the job spec"
        rule = schema[key]
        if "enum" in rule:
            assert value in rule["enum"]
        if rule.get("type") == "boolean":
            assert isinstance(value, bool)
        if rule.get("type") == "number":
            assert rule.get("minimum", -1e9) <= value <= rule.get("maximum", 1e9)
        if rule.get("type") == "array":
            assert len(value) == 2
            for granule in value:
                assert re.match(rule["items"]["pattern"], granule)
                assert len(granule) == rule["items"]["minLength"]


def test_gamma_payload_equals_hyp3_sdk_and_follows_the_job_spec(fixtures_dir: Path) -> None:
    options = make_options(INSAR_GAMMA, {"looks": "10x2", "phase_filter_parameter": 0.3,
                                         "include_wrapped_phase": True})
    ours = prepare_insar_gamma_job(SLC_A, SLC_B, options, name="n1")  # type: ignore[arg-type]
    sdk = HyP3.prepare_insar_job(SLC_A, SLC_B, name="n1", **asdict(options))
    assert ours == sdk
    check_against_spec(ours["job_parameters"], spec_parameters(fixtures_dir, INSAR_GAMMA))


def test_burst_payload_equals_hyp3_sdk_and_follows_the_job_spec(fixtures_dir: Path) -> None:
    options = make_options(INSAR_ISCE_BURST, {"looks": "5x1", "apply_water_mask": False})
    ours = prepare_insar_isce_burst_job(BURST_A, BURST_B, options)  # type: ignore[arg-type]
    assert ours == HyP3.prepare_insar_isce_burst_job(BURST_A, BURST_B, **asdict(options))
    check_against_spec(ours["job_parameters"], spec_parameters(fixtures_dir, INSAR_ISCE_BURST))


@pytest.mark.parametrize(("payloads", "job_type"), [
    ("insar_gamma_golden.json.j2", INSAR_GAMMA),
    ("insar_isce_burst_golden.json.j2", INSAR_ISCE_BURST),
])
def test_asf_golden_jobs_are_rebuilt_exactly(fixtures_dir: Path, payloads: str, job_type: str) -> None:
    jobs = golden(fixtures_dir, payloads)
    assert jobs
    for job in jobs:
        params = dict(job["job_parameters"])
        reference, secondary = (check_granule(job_type, g) for g in params.pop("granules"))
        params.pop("include_los_displacement", None)  # deprecated: we send False
        options = make_options(job_type, params)
        prepare = prepare_insar_gamma_job if job_type == INSAR_GAMMA else prepare_insar_isce_burst_job
        ours = prepare(reference, secondary, options, name="golden")  # type: ignore[operator]
        assert ours["job_type"] == job["job_type"] and ours["name"] == "golden"
        for key, value in job["job_parameters"].items():
            if key != "include_los_displacement":
                assert ours["job_parameters"][key] == value, key


def test_defaults_give_mintpy_its_layers() -> None:
    gamma = GammaOptions()
    assert gamma.include_dem and gamma.include_look_vectors and gamma.looks == "20x4"
    assert BurstOptions().looks == "20x4"


def test_names_are_unique_stable_and_fit_hyp3() -> None:
    base = prepare_insar_gamma_job(SLC_A, SLC_B, GammaOptions())
    name = job_name("ifg", base)
    assert name == job_name("ifg", prepare_insar_gamma_job(SLC_A, SLC_B, GammaOptions()))
    assert re.fullmatch(r"ifg_20200102_20200114_[0-9a-f]{10}", name)
    assert job_name("ifg", prepare_insar_gamma_job(SLC_B, SLC_A, GammaOptions())) != name
    other_looks = prepare_insar_gamma_job(SLC_A, SLC_B, GammaOptions(looks="10x2"))
    assert job_name("ifg", other_looks) != name
    burst = job_name("x" * 40, prepare_insar_isce_burst_job(BURST_A, BURST_B, BurstOptions()))
    assert len(burst) + len("_r99") <= MAX_NAME_LENGTH


def test_costs_follow_the_costs_table() -> None:
    # GET /costs shapes from the HyP3 OpenAPI document (fixed, one and two cost parameters)
    costs = {"INSAR_GAMMA": {"cost_parameters": ["looks"], "cost_table": {"20x4": 10.0, "10x2": 15.0}},
             "INSAR_ISCE_BURST": {"cost": 1.0},
             "JOB_TYPE_C": {"cost_parameters": ["foo", "bar"],
                            "cost_table": {"f1": {"b1": 1.0, "b2": 5.0}}}}
    gamma_20 = prepare_insar_gamma_job(SLC_A, SLC_B, GammaOptions())
    gamma_10 = prepare_insar_gamma_job(SLC_A, SLC_B, GammaOptions(looks="10x2"))
    burst = prepare_insar_isce_burst_job(BURST_A, BURST_B, BurstOptions())
    assert (job_cost(gamma_20, costs), job_cost(gamma_10, costs), job_cost(burst, costs)) == (10, 15, 1)
    two = {"job_type": "JOB_TYPE_C", "job_parameters": {"foo": "f1", "bar": "b2"}}
    assert job_cost(two, costs) == 5.0
    assert job_cost(gamma_20, {}) == 1.0  # HyP3's default cost


@pytest.mark.parametrize(("values", "message"), [
    ({"looks": "5x1"}, "looks='5x1' is not allowed for INSAR_GAMMA; choose one of 20x4, 10x2"),
    ({"phase_filter_parameter": 1.5}, "phase_filter_parameter=1.5 must be a number from 0 to 1"),
    ({"include_dem": "yes"}, "include_dem='yes' must be True or False"),
    ({"resolution": 80}, "option 'resolution' is not a INSAR_GAMMA option"),
])
def test_bad_options_name_the_field_and_what_is_allowed(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_options(INSAR_GAMMA, values)


def test_burst_options_refuse_gamma_only_ones() -> None:
    with pytest.raises(ConfigError, match="'include_dem' is not a INSAR_ISCE_BURST option"):
        make_options(INSAR_ISCE_BURST, {"include_dem": True})


def test_pairs_come_in_every_form_users_have() -> None:
    pairs = [(SLC_A, SLC_B)]
    assert normalize_pairs(pairs, INSAR_GAMMA) == (pairs, None)
    assert normalize_pairs((SLC_A, SLC_B), INSAR_GAMMA) == (pairs, None)
    assert normalize_pairs([[SLC_A, SLC_B], (SLC_A, SLC_B)], INSAR_GAMMA) == (pairs, None)
    assert normalize_pairs({(100, 466): pairs}, INSAR_GAMMA) == (pairs, (100, 466))
    selection = ({(100, 466): pairs}, {}, {})  # what select_pairs returns, unpacked or not
    assert normalize_pairs(selection, INSAR_GAMMA) == (pairs, (100, 466))


@pytest.mark.parametrize(("pairs", "message"), [
    ({(100, 466): [], (100, 469): []}, "pairs holds 2 stacks ((100, 466), (100, 469))"),
    ([(SLC_A, BURST_B)], "pairs[0][1]: 'S1_136231_IW2_20200616T022313_VV_5D11-BURST' is not a "
                         "granule INSAR_GAMMA can process"),
    ([(SLC_A, SLC_A)], f"pairs[0] uses {SLC_A} twice"),
    ([(SLC_A,)], "pairs[0]="),
    (SLC_A, "must be a list of (reference, secondary)"),
])
def test_bad_pairs_say_what_is_wrong(pairs: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        normalize_pairs(pairs, INSAR_GAMMA)


def test_burst_names_given_to_the_slc_processor_point_to_hyp3_burst() -> None:
    with pytest.raises(ConfigError, match=re.escape("INSAR_ISCE_BURST granule: use "
                                                    "Processor.create('Hyp3_Burst')")):
        normalize_pairs([(BURST_A, BURST_B)], INSAR_GAMMA)
    with pytest.raises(ConfigError, match=re.escape("INSAR_GAMMA granule: use "
                                                    "Processor.create('Hyp3_S1')")):
        normalize_pairs([(SLC_A, SLC_B)], INSAR_ISCE_BURST)


def test_multi_burst_payload_equals_hyp3_sdk() -> None:
    from insarhub.processor.hyp3_jobs import (
        INSAR_ISCE_MULTI_BURST,
        job_granules,
        prepare_insar_isce_multi_burst_job,
        prepare_job,
    )

    reference = ["S1_136231_IW2_20200604T022312_VV_7C85-BURST",
                 "S1_136232_IW2_20200604T022315_VV_7C85-BURST"]
    secondary = ["S1_136231_IW2_20200616T022313_VV_5D11-BURST",
                 "S1_136232_IW2_20200616T022316_VV_5D11-BURST"]
    options = make_options(INSAR_ISCE_MULTI_BURST, {"looks": "10x2", "apply_water_mask": True})
    ours = prepare_insar_isce_multi_burst_job(reference, secondary, options, name="x")  # type: ignore[arg-type]
    assert ours == HyP3.prepare_insar_isce_multi_burst_job(reference, secondary, name="x",
                                                           **asdict(options))
    # the ledger's '+'-joined sides give the same job, and back
    joined = prepare_job(INSAR_ISCE_MULTI_BURST, "+".join(reference), "+".join(secondary),
                         options)
    assert joined == {k: v for k, v in ours.items() if k != "name"}
    assert job_granules(joined) == ("+".join(reference), "+".join(secondary))


def test_run_forms_take_their_defaults_from_the_processor_options() -> None:
    from insarhub.options import Hyp3Options, IsceOptions
    from insarhub.processor.isce_config import ISCE_S1_Config

    form, gamma = Hyp3Options(), GammaOptions()
    assert (form.looks, form.apply_water_mask) == (gamma.looks, gamma.apply_water_mask)
    assert "(empty: 0.5)" in (Hyp3Options.model_fields["phase_filter_parameter"].description or "")
    assert "(empty: ifg)" in (Hyp3Options.model_fields["name_prefix"].description or "")
    config = ISCE_S1_Config(workdir="w", slc_dir="s")
    assert isinstance(config, IsceOptions)
    assert IsceOptions().model_dump(exclude={"slc_dir"}) == config.model_dump(
        include=set(IsceOptions.model_fields) - {"slc_dir"})
