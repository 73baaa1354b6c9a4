"""sparselab.scaling"""
