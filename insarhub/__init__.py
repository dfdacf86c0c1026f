"""InSARHub: automated Sentinel-1 InSAR ground-deformation monitoring.

The domain library: no Prefect import anywhere in it. See README.md for the walkthrough.
"""

from insarhub.errors import InsarHubError
from insarhub.factory import Analyzer, Downloader, Processor

__all__ = ["Analyzer", "Downloader", "InsarHubError", "Processor"]
__version__ = "0.1.0"
