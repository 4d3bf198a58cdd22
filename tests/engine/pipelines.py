"""Tiny pipelines for engine tests, written with the real KFP SDK.

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

IMAGE = "python:3.11"


@dsl.component(base_image=IMAGE)
def stamp(label: str, seconds: float) -> str:
    """Sleeps, then says when it ran (start and end, wall clock)."""
    import time

    start = time.time()
    time.sleep(seconds)
    return f"{label}:{start}:{time.time()}"


@dsl.component(base_image=IMAGE)
def meet(label: str, folder: str, count: int, seconds: float) -> str:
    """Arrives in ``folder``, waits (at most 120 s) until ``count`` tasks have arrived, sleeps,
    then says when it ran, as ``stamp`` does: tasks that met surely ran at the same time,
    however busy the machine."""
    import os
    import time

    start = time.time()
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, label), "w").close()
    deadline = time.monotonic() + 120
    while len(os.listdir(folder)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(seconds)
    return f"{label}:{start}:{time.time()}"


@dsl.component(base_image=IMAGE)
def write_text(text: str, out: Output[Dataset]):
    with open(out.path, "w") as f:
        f.write(text)


@dsl.component(base_image=IMAGE)
def read_text(data: Input[Dataset]) -> str:
    with open(data.path) as f:
        return f.read().upper()


@dsl.component(base_image=IMAGE)
def flaky(counter_path: str) -> str:
    """Fails on its first attempt, succeeds on the second."""
    import os

    count = 0
    if os.path.exists(counter_path):
        with open(counter_path) as f:
            count = int(f.read())
    with open(counter_path, "w") as f:
        f.write(str(count + 1))
    if count == 0:
        raise RuntimeError("first attempt fails on purpose")
    return f"attempt={count + 1}"


@dsl.component(base_image=IMAGE, packages_to_install=["no-such-package-kubeline-test==1.0"])
def needs_missing_package() -> str:
    return "never"


@dsl.container_component
def echo(message: str):
    return dsl.ContainerSpec(image="alpine", command=["echo"], args=[message])


@dsl.container_component
def missing_program():
    return dsl.ContainerSpec(image="alpine", command=["kubeline-no-such-program"], args=["x"])


@dsl.pipeline(name="fan-out")
def fan_out(seconds: float = 0.5):
    """Four independent tasks: they may all run at once."""
    for label in "abcd":
        stamp(label=label, seconds=seconds)


@dsl.pipeline(name="loop-limit")
def loop_limit(seconds: float = 0.3):
    with dsl.ParallelFor(["1", "2", "3", "4", "5", "6"], parallelism=2) as item:
        stamp(label=item, seconds=seconds)


@dsl.pipeline(name="meeting")
def meeting(folder: str, count: int = 4, seconds: float = 0.0):
    """Four independent tasks, each waiting until ``count`` of them have started."""
    for label in "abcd":
        meet(label=label, folder=folder, count=count, seconds=seconds)


@dsl.pipeline(name="loop-meeting")
def loop_meeting(folder: str, count: int = 2, seconds: float = 0.0):
    with dsl.ParallelFor(["1", "2", "3", "4", "5", "6"], parallelism=2) as item:
        meet(label=item, folder=folder, count=count, seconds=seconds)


@dsl.pipeline(name="two-step")
def two_step(text: str = "hello", other: str = "x") -> str:
    written = write_text(text=text)
    stamp(label=other, seconds=0.0)
    return read_text(data=written.outputs["out"]).output


@dsl.pipeline(name="retrying")
def retrying(counter_path: str) -> str:
    task = flaky(counter_path=counter_path)
    task.set_retry(num_retries=2, backoff_duration="0s")
    return task.output


@dsl.pipeline(name="missing-package")
def missing_package() -> str:
    return needs_missing_package().output


@dsl.pipeline(name="host-commands")
def host_commands(message: str = "hi"):
    echo(message=message)


@dsl.pipeline(name="missing-program")
def missing_program_pipeline():
    missing_program()


@dsl.pipeline(name="sleeper")
def sleeper(seconds: float = 30.0) -> str:
    return stamp(label="long", seconds=seconds).output


@dsl.pipeline(name="import-remote")
def import_remote(uri: str) -> str:
    imported = dsl.importer(artifact_uri=uri, artifact_class=Dataset, reimport=False)
    return read_text(data=imported.output).output


@dsl.component(base_image=IMAGE)
def import_lazily(module: str, after: bool) -> bool:
    """Imports ``module`` by a name read at run time (so no preload can see it) and says
    whether it was already imported when the task began."""
    import importlib
    import sys

    warm = module in sys.modules
    importlib.import_module(module)
    return warm


@dsl.pipeline(name="lazy-imports")
def lazy_imports(module: str = "xml.dom.minidom") -> bool:
    first = import_lazily(module=module, after=False)
    return import_lazily(module=module, after=first.output).output


@dsl.component(base_image=IMAGE, packages_to_install=["scikit-learn"])
def fit_iris(model: Output[Model], register_as: str):
    """Fits a small classifier; asks to be registered when ``register_as`` is set."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).frame
    features = frame.drop(columns="target")
    joblib.dump(LogisticRegression(max_iter=500).fit(features, frame["target"]), model.path)
    model.metadata["framework"] = "sklearn"
    if register_as:
        model.metadata["register_as"] = register_as


@dsl.pipeline(name="fit-iris")
def fit_iris_pipeline(register_as: str = ""):
    fit_iris(register_as=register_as)


@dsl.component(base_image=IMAGE)
def refuse(text: str) -> str:
    from kubeline.errors import DataError

    raise DataError(f"column {text!r} is missing")


@dsl.pipeline(name="refusing")
def refusing(text: str = "x"):
    refuse(text=text)
