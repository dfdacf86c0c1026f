"""Pair options defined once: the run form's NetworkOptions are part of PairOptions."""

from __future__ import annotations

import pytest

from insarhub.errors import ConfigError
from insarhub.network import PairOptions
from insarhub.options import NetworkOptions


def test_the_form_fields_are_the_libraries_with_the_same_defaults() -> None:
    form, library = NetworkOptions(), PairOptions()
    assert set(NetworkOptions.model_fields) < set(PairOptions.model_fields)
    assert library.model_dump(include=set(NetworkOptions.model_fields)) == form.model_dump()
    assert PairOptions.from_kwargs(**form.as_kwargs()) == library


def test_bad_values_are_config_errors_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="max_degree"):
        PairOptions(max_degree=0)
    with pytest.raises(ConfigError, match="dt_targets"):
        PairOptions.from_kwargs(dt_targets=[])
    assert PairOptions(dt_targets=12).dt_targets == (12,)
