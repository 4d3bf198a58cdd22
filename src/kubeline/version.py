"""kubeline's version, in a module of its own.

Layers that print or serve the version (the model server, the web UI) import it from here:
importing it from the package itself would tie them to ``kubeline/__init__.py``, whose
functions reach into the engine and the registry.
"""

from __future__ import annotations

__version__ = "0.1.0"
