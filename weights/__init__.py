"""Shipped colorizer weights (package data; see MODEL_CARD.md)."""
