"""Colour black-and-white photographs and film frames in batches."""
