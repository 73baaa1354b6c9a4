"""sparselab.tasks"""
