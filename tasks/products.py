"""Products from a MintPy run (COGs, CSV, PNG, STAC) and their publication to S3.

Each stack gets one products page (a markdown artifact keyed `<aoi>-<stack>-products`): the
velocity map and the point time-series plot shown inline, then every file as a link the
browser can open (the product server's URL, or a presigned S3 URL once published).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from insarhub.products import make_products, presigned_urls, publish_s3
from insarhub.products.serve import product_urls
from tasks import artifacts
from tasks.common import NETWORK_RETRIES, SIDE_EFFECTS, artifact_key

# what a user sees beside each product file
DESCRIPTIONS = {
    "velocity.tif": "mean LOS velocity (COG)",
    "velocity_std.tif": "its standard deviation (COG)",
    "temporal_coherence.tif": "temporal coherence 0..1 (COG)",
    "displacement.tif": "cumulative LOS displacement, one band per date (COG)",
    "velocity.png": "velocity map",
    "item.json": "STAC item describing all of these",
    "timeseries_points.csv": "displacement time series at the points",
    "timeseries_points.png": "time-series plot at the points",
    "pixels.parquet": "reliable pixels (GeoParquet)",
    "velocity.kmz": "velocity for Google Earth",
}
FIGURES = {"velocity.png": "LOS velocity", "timeseries_points.png": "Displacement at the points"}


def products_markdown(title: str, files: Mapping[str, str], urls: Mapping[str, str],
                      note: str = "") -> str:
    """The products page: figures inline, then one line per file (a link when it has a URL)."""
    lines = [f"# {title}", ""]
    for name, caption in FIGURES.items():
        if name in files:
            lines += [f"### {caption}", "", artifacts.image(files[name], caption, urls.get(name)),
                      ""]
    lines += ["### Files", ""]
    for name, path in files.items():
        size = Path(path).stat().st_size if Path(path).is_file() else 0
        lines.append(artifacts.link_line(name, urls.get(name, path),
                                         f"{DESCRIPTIONS.get(name, '')} ({_size(size)})"))
    if note:
        lines += ["", note]
    elif any(name not in urls for name in files):
        lines += ["", artifacts.NO_SERVER_HINT]
    return "\n".join(lines) + "\n"


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


@task(name="make-products", **SIDE_EFFECTS)
def make_stack_products(stack: str, stack_dir: str, aoi: Any = None,
                        points: list[tuple[float, float]] | None = None,
                        label: str | None = None) -> dict[str, str]:
    """Write the products of `<stack_dir>/mintpy` to `<stack_dir>/products`; their paths by name.

    Adds the stack's products page as an artifact (`<label>-<stack>-products`).
    """
    logger = get_run_logger()
    folder = Path(stack_dir)
    products = make_products(folder / "mintpy", folder / "products", points=points or None,
                             aoi=aoi)
    paths = {f.name: str(f.resolve()) for f in products.files()}
    urls = product_urls(products.out_dir, products.files())
    logger.info("%s: %d products in %s%s", stack, len(paths), products.out_dir,
                f", served at {next(iter(urls.values())).rsplit('/', 1)[0]}/" if urls else "")
    where = f"{label}, stack {stack}" if label else f"stack {stack}"
    artifacts.markdown(products_markdown(f"Products of {where}", paths, urls),
                       key=artifact_key(label, stack, "products"),
                       description=f"Velocity map, time series and product files of {where}")
    return paths


@task(name="publish-products", **SIDE_EFFECTS, **NETWORK_RETRIES)
def publish_stack_products(stack: str, stack_dir: str, bucket: str, prefix: str = "",
                           endpoint_url: str | None = None, label: str | None = None,
                           presign_expiry_s: int = 7 * 24 * 3600) -> dict[str, Any]:
    """Upload the stack's products to S3 (only what changed); the object URLs and presigned
    HTTPS links (shown on the `<label>-<stack>-published` page)."""
    logger = get_run_logger()
    key_prefix = "/".join(filter(None, [prefix.strip("/"), stack]))
    out_dir = Path(stack_dir) / "products"
    result = publish_s3(out_dir, bucket, key_prefix, endpoint_url)
    logger.info("%s: %d uploaded, %d unchanged to s3://%s/%s", stack, len(result.uploaded),
                len(result.skipped), bucket, key_prefix)
    signed = presigned_urls(bucket, result.object_keys(), endpoint_url, presign_expiry_s)
    files = {key.rsplit("/", 1)[-1]: str(out_dir / key[len(key_prefix):].lstrip("/"))
             for key in result.object_keys()}
    urls = {key.rsplit("/", 1)[-1]: url for key, url in signed.items()}
    where = f"{label}, stack {stack}" if label else f"stack {stack}"
    hours = presign_expiry_s / 3600
    artifacts.markdown(
        products_markdown(f"Published products of {where}", files, urls,
                          note=f"In s3://{bucket}/{key_prefix}/; these links work for "
                               f"{hours:.0f} h from publication."),
        key=artifact_key(label, stack, "published"),
        description=f"Products of {where} on S3 (presigned links)")
    return {"uploaded": result.uploaded, "skipped": result.skipped, "urls": result.urls(),
            "links": urls}
