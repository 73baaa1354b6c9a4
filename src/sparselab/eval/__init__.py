"""sparselab.eval"""
