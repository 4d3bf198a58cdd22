"""A local Kubeflow Pipelines server: KFP's v2beta1 REST API over the engine and the store,
so ``kfp.Client`` and the ``kfp`` command line work against it unchanged."""

from kubeline.server.app import create_app
from kubeline.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
