"""sparselab: sparsity in retrieval and in transformers."""
__version__ = "0.1.0"
