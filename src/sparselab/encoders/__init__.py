"""sparselab.encoders"""
