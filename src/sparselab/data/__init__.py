"""sparselab.data: named datasets, the Collection model, loaders, verification and fetching."""
from .collection import Collection
from .datasets import DATASETS, DatasetSpec, data_roots, get_spec, list_datasets, resolve_file
from .fetching import fetch
from .io import DataError
from .loaders import load_collection, load_text
from .verification import verify

__all__ = [
    "DATASETS",
    "Collection",
    "DataError",
    "DatasetSpec",
    "data_roots",
    "fetch",
    "get_spec",
    "list_datasets",
    "load_collection",
    "load_text",
    "resolve_file",
    "verify",
]
