"""The run forms Prefect builds from the flows: every parameter explained, option groups typed
with their defaults and allowed values; plain dicts from Python callers still accepted."""

from __future__ import annotations

from typing import Any

import pytest

from flows.monitor import monitor_aoi
from flows.pipeline import insar_pipeline
from insarhub.errors import ConfigError
from insarhub.options import (
    Hyp3Options,
    MintPyOptions,
    NetworkOptions,
    Point,
    PublishOptions,
    processor_options,
)


def schema(flow: Any) -> dict[str, Any]:
    """The parameter schema `prefect deploy` sends (what the UI's run form is built from)."""
    return dict(flow.parameters.model_dump())


@pytest.mark.parametrize("flow", [insar_pipeline, monitor_aoi], ids=lambda f: f.name)
def test_every_parameter_is_described(flow: Any) -> None:
    properties = schema(flow)["properties"]
    assert properties
    for name, prop in properties.items():
        assert len(prop.get("description", "")) > 15, name


def test_option_groups_are_typed_forms_with_defaults_and_choices() -> None:
    form = schema(insar_pipeline)
    definitions, properties = form["definitions"], form["properties"]
    network = properties["network"]
    assert network["default"]["max_degree"] == 5  # the shared degree cap
    net = definitions["NetworkOptions"]["properties"]
    assert net["strategy"]["enum"] == ["sbas", "sequential"]
    assert all(field.get("description") for field in net.values())
    refs = {ref["$ref"].rsplit("/", 1)[-1] for ref in properties["processor"]["anyOf"]
            if "$ref" in ref}
    assert refs == {"Hyp3Options", "IsceOptions"}
    assert definitions["Hyp3Options"]["properties"]["looks"]["enum"] == ["20x4", "10x2", "5x1"]
    for name, model in (("mintpy", "MintPyOptions"), ("publish", "PublishOptions")):
        assert {"$ref": f"#/definitions/{model}"} in properties[name]["anyOf"]
    assert properties["points"]["anyOf"][0]["items"] == {"$ref": "#/definitions/Point"}
    assert set(definitions["Point"]["properties"]) == {"lat", "lon"}


def test_monitoring_form_offers_the_overrides() -> None:
    properties = schema(monitor_aoi)["properties"]
    assert {"config", "start", "end", "threshold_mm", "network", "max_credits"} <= set(properties)
    assert all(properties[name].get("default", "missing") is None
               for name in ("start", "end", "threshold_mm", "network", "max_credits"))


def test_dicts_and_pairs_from_python_become_the_models() -> None:
    values = insar_pipeline.validate_parameters({
        "aoi": [-113.05, 37.74, -112.68, 38.0], "start": "2020-01-01",
        "network": {"max_degree": 3}, "processor": {"looks": "10x2"},
        "mintpy": {"mintpy.deramp": "linear"}, "points": [(37.87, -112.86)],
        "publish": {"bucket": "b-products"}})
    assert values["network"] == NetworkOptions(max_degree=3)
    assert isinstance(values["processor"], Hyp3Options) and values["processor"].looks == "10x2"
    assert values["mintpy"].as_template() == {"mintpy.deramp": "linear"}
    assert values["points"] == [Point(lat=37.87, lon=-112.86)]
    assert isinstance(values["publish"], PublishOptions)
    assert MintPyOptions(min_coherence=0.6).as_template() == {"mintpy.network.minCoherence": 0.6}


@pytest.mark.parametrize(("parameters", "message"), [
    ({"network": {"max_degree": 0}}, "max_degree"),
    ({"network": {"max_degre": 4}}, "max_degre"),
    ({"processor": {"looks": "30x6"}}, "looks"),
    ({"points": [(95.0, 10.0)]}, "lat"),
])
def test_bad_options_are_refused_naming_the_field(parameters: dict[str, Any], message: str
                                                  ) -> None:
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match=message):
        insar_pipeline.validate_parameters({"aoi": [-113.05, 37.74, -112.68, 38.0],
                                            "start": "2020-01-01", **parameters})


def test_processor_options_follow_the_backend() -> None:
    assert processor_options("hyp3", Hyp3Options(looks="10x2")) == {
        "looks": "10x2", "apply_water_mask": True}
    assert processor_options("isce", Hyp3Options()) is None  # the form's untouched default
    assert processor_options("isce", {"dry_run": True})["dry_run"] is True
    with pytest.raises(ConfigError, match="backend='isce'"):
        processor_options("isce", Hyp3Options(looks="10x2"))
