"""kubeline: Kubeflow Pipelines made easy.

A complete ML lifecycle pipeline written with the KFP v2 SDK, a local engine that runs any
compiled KFP pipeline, and the commands to move the same YAML to a cluster.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
