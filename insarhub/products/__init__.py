"""Products from MintPy outputs: COGs, point time series, GeoParquet, PNG, KMZ, STAC, S3.

    from insarhub.products import make_products, publish_s3
    products = make_products("p100_f466/mintpy", "p100_f466/products", points=[(37.9, -112.9)])
    publish_s3(products.out_dir, bucket="my-bucket", prefix="utah/p100_f466")
"""

from insarhub.products.cog import cog_problems
from insarhub.products.make import ProductSet, make_products
from insarhub.products.publish import PublishResult, presigned_urls, publish_s3

__all__ = ["ProductSet", "PublishResult", "cog_problems", "make_products", "presigned_urls",
           "publish_s3"]
