"""The products' STAC item is valid STAC, checked by pystac's own validator (offline).

pystac ships the core STAC and GeoJSON schemas; the extension schemas the item declares are in
tests/fixtures/stac (sources in tests/fixtures/SOURCES.md), so nothing is fetched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pystac
import pytest
from pystac.validation import JsonSchemaSTACValidator


@pytest.fixture(scope="module")
def validator(fixtures_dir: Path) -> JsonSchemaSTACValidator:
    checker = JsonSchemaSTACValidator()
    for path in sorted((fixtures_dir / "stac").glob("*.json")):
        schema = json.loads(path.read_text())
        checker.schema_cache[schema["$id"].rstrip("#")] = schema
    return checker


def test_products_item_is_valid_stac(products, validator) -> None:
    item = pystac.Item.from_file(str(products.stac_item))
    validated = item.validate(validator=validator)
    assert len(validated) == 1 + len(item.stac_extensions)  # the core schema and each extension
    assert {uri.split("/")[3] for uri in item.stac_extensions} == {"projection", "file", "raster", "sat"}
    assert item.assets["velocity"].extra_fields["file:size"] == (
        products.stac_item.parent / item.assets["velocity"].href).stat().st_size


def test_a_broken_item_is_refused(products, validator, tmp_path) -> None:
    document = json.loads(products.stac_item.read_text())
    document["properties"]["proj:shape"] = ["forty", 50]  # the projection schema wants integers
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    with pytest.raises(pystac.errors.STACValidationError):
        pystac.Item.from_file(str(broken)).validate(validator=validator)
