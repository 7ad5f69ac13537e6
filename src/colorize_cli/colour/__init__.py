"""Colour maths on arrays and tensors: sRGB <-> Lab, the a/b classes, shrinking a grey to
the model's grid, and joining predicted a/b with the full-resolution lightness.

Pure functions of their inputs: no files, no model, no threads.
"""
