"""Pipelines that print what a task can see of kubeline's token (no ``from __future__
import annotations`` here: kfp reads the annotations of component functions)."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def print_token() -> str:
    import os

    seen = os.environ.get("KUBELINE_TOKEN", "absent")
    print(f"python task sees token={seen}")
    return seen


@dsl.container_component
def shell_token():
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'echo "shell task sees token=${KUBELINE_TOKEN:-absent}"'],
    )


@dsl.pipeline(name="token-probe")
def token_probe() -> str:
    shell_token()
    return print_token().output
