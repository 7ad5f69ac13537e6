"""Files in and out: find the inputs, decode them, encode and write the outputs atomically,
claim outputs between concurrent runs, and log each result to the manifest.

The only group that touches the disk (besides loading weights); nothing here knows about
the model.
"""
