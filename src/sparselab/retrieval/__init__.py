"""sparselab.retrieval"""
