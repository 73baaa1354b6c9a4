"""sparselab.reports"""
