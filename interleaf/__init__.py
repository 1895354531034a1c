"""interleaf: interleaved image-text datasets for visual language models.

The subpackages live in the repository's top-level folders (schemas/, filters/, pipeline/,
loaders/, flamingo/, cli/) and install under this namespace.
"""

__version__ = "0.1.0"
