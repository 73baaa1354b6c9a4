"""sparselab.data"""
