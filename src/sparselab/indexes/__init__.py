"""sparselab.indexes"""
