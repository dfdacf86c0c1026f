"""Products from a MintPy run (COGs, CSV, PNG, STAC) and their publication to S3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from insarhub.products import make_products, publish_s3
from tasks import artifacts
from tasks.common import NETWORK_RETRIES, SIDE_EFFECTS


@task(name="make-products", **SIDE_EFFECTS)
def make_stack_products(stack: str, stack_dir: str, aoi: Any = None,
                        points: list[tuple[float, float]] | None = None) -> dict[str, str]:
    """Write the products of `<stack_dir>/mintpy` to `<stack_dir>/products`; their paths by name.

    Adds the velocity map and the product links as artifacts.
    """
    logger = get_run_logger()
    folder = Path(stack_dir)
    products = make_products(folder / "mintpy", folder / "products", points=points or None,
                             aoi=aoi)
    paths = {f.name: str(f.resolve()) for f in products.files()}
    logger.info("%s: %d products in %s", stack, len(paths), products.out_dir)
    artifacts.figure(products.velocity_png, key=f"velocity-{stack}",
                     title=f"LOS velocity, stack {stack}")
    artifacts.links(paths, key=f"products-{stack}", title=f"Products of stack {stack}")
    return paths


@task(name="publish-products", **SIDE_EFFECTS, **NETWORK_RETRIES)
def publish_stack_products(stack: str, stack_dir: str, bucket: str, prefix: str = "",
                           endpoint_url: str | None = None) -> dict[str, Any]:
    """Upload the stack's products to S3 (only what changed); the object URLs."""
    logger = get_run_logger()
    key_prefix = "/".join(filter(None, [prefix.strip("/"), stack]))
    result = publish_s3(Path(stack_dir) / "products", bucket, key_prefix, endpoint_url)
    logger.info("%s: %d uploaded, %d unchanged to s3://%s/%s", stack, len(result.uploaded),
                len(result.skipped), bucket, key_prefix)
    artifacts.links({url.rsplit("/", 1)[-1]: url for url in result.urls()},
                    key=f"published-{stack}", title=f"Published products of stack {stack}")
    return {"uploaded": result.uploaded, "skipped": result.skipped, "urls": result.urls()}
