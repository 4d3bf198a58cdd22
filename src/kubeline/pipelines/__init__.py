"""KFP v2 pipelines: the ML lifecycle pipeline, its components, and the compiler front end.

Components import :mod:`kubeline.ml` inside their bodies: they run alone, in a container
image with kubeline installed.
"""
