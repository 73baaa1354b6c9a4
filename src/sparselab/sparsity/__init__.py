"""sparselab.sparsity"""
