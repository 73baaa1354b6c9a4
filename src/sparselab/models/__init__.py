"""sparselab.models"""
