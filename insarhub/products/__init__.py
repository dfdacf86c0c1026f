"""Products from MintPy outputs: COGs, point time series, GeoParquet, PNG, KMZ, STAC, S3.

    from insarhub.products import make_products, publish_s3
    products = make_products("p100_f466/mintpy", "p100_f466/products", points=[(37.9, -112.9)])
    publish_s3(products.out_dir, bucket="my-bucket", prefix="utah/p100_f466")

Names load on first use (PEP 562): making products pulls in matplotlib, publishing boto3.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from insarhub.products.cog import cog_problems
    from insarhub.products.make import ProductSet, make_products
    from insarhub.products.publish import PublishResult, presigned_urls, publish_s3

_LAZY = {"cog_problems": "cog", "ProductSet": "make", "make_products": "make",
         "PublishResult": "publish", "presigned_urls": "publish", "publish_s3": "publish"}

__all__ = ["ProductSet", "PublishResult", "cog_problems", "make_products", "presigned_urls",
           "publish_s3"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
