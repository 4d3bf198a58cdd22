"""Minimal pipelines for KFP's type rules (issue #13), written with the real KFP SDK.

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl

IMAGE = "python:3.11"

ROWS = [
    {
        "count": 1,
        "kind": "cottontail",
        "tags": ["a", "b"],
        "size": {"cm": 40, "note": "<small & soft>"},
        "wild": True,
        "weight": 1.5,
    }
]
WARRENS = [{"warren": "north", "rabbits": [{"cottontail": 1, "ears": 2}]}]


@dsl.component(base_image=IMAGE)
def show(text: str) -> str:
    """Returns what it was given: the executor refuses a non-str return, as KFP's does."""
    print(f"got {text!r}")
    return text


@dsl.component(base_image=IMAGE)
def make_rows() -> list[dict]:
    return [{"count": 2, "kind": "jackrabbit"}]


@dsl.component(base_image=IMAGE)
def three() -> int:
    return 3


@dsl.component(base_image=IMAGE)
def one_two() -> list[int]:
    return [1, 2]


@dsl.container_component
def write_text(text: str, out: dsl.OutputPath(str)):
    """Writes its (concatenated) argument to its output, as the command line got it."""
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'printf "%s" "$0" > "$1"'],
        args=[dsl.ConcatPlaceholder(["[", text, "]"]), out],
    )


@dsl.container_component
def write_numbers(numbers: list[int], out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'printf "%s" "$0" > "$1"'],
        args=[dsl.ConcatPlaceholder(["numbers=", numbers]), out],
    )


@dsl.pipeline(name="loop-item-fields")
def loop_item_fields(rows: list[dict] = ROWS):
    """Each field of a dict item, passed to a ``str`` input; and a field of an item from an
    upstream task's output."""
    with dsl.ParallelFor(rows) as row:
        show(text=row.count).set_display_name("count")
        show(text=row.kind).set_display_name("kind")
        show(text=row.tags).set_display_name("tags")
        show(text=row.size).set_display_name("size")
        show(text=row.wild).set_display_name("wild")
        show(text=row.weight).set_display_name("weight")
    with dsl.ParallelFor(make_rows().output) as made:
        show(text=made.count).set_display_name("made-count")


@dsl.pipeline(name="nested-loop-items")
def nested_loop_items(warrens: list[dict] = WARRENS):
    """A loop over a list field of each outer item: the inner items and their fields."""
    with dsl.ParallelFor(warrens) as warren:
        show(text=warren.rabbits).set_display_name("rabbits")
        with dsl.ParallelFor(warren.rabbits) as rabbit:
            show(text=rabbit).set_display_name("rabbit")
            show(text=rabbit.cottontail).set_display_name("cottontail")


@dsl.pipeline(name="int-in-strings")
def int_in_strings():
    """An int output in an f-string (Python and container components) and a list of ints
    in a container's concat placeholder."""
    n = three()
    show(text=f"{n.output} <= 5!").set_display_name("python-f-string")
    write_text(text=f"{n.output} <= 5!").set_display_name("container-f-string")
    write_numbers(numbers=one_two().output).set_display_name("container-list")


@dsl.component(base_image=IMAGE, packages_to_install=["click-option-group==0.5.6"])
def old_click_option_group() -> str:
    """kfp 2.x pins click-option-group==0.5.7, so one combined resolve refuses 0.5.6."""
    import importlib.metadata

    return importlib.metadata.version("click-option-group")


@dsl.pipeline(name="old-pin")
def old_pin() -> str:
    return old_click_option_group().output


@dsl.component(
    base_image=IMAGE,
    packages_to_install=["kubeline-no-such-package==1.0"],
    pip_index_urls=["file:///kubeline-no-such-index"],
)
def unavailable_package() -> str:
    return "never"


@dsl.pipeline(name="unavailable-package")
def unavailable() -> str:
    return unavailable_package().output


@dsl.component(base_image=IMAGE)
def read_variable(name: str) -> str:
    import os

    return os.environ.get(name, "<unset>")


@dsl.pipeline(name="reads-config-map")
def reads_config_map() -> str:
    return read_variable(name="RABBIT_COLOUR").output
