"""The error a task's process leaves next to its outputs, and how much of it is trusted."""

from __future__ import annotations

import json
from pathlib import Path

from kubeline.engine.executors.program import (
    MAX_ERROR_BYTES,
    clear_error,
    error_file,
    executor_argv,
    read_error,
    write_error,
)
from kubeline.errors import DataError


def test_an_error_is_written_with_its_qualified_name_and_read_back(tmp_path: Path) -> None:
    write_error(tmp_path, DataError("column 'age' is missing"))
    assert read_error(tmp_path) == {
        "type": "kubeline.errors.DataError",
        "message": "column 'age' is missing",
        "user_error": True,
    }
    write_error(tmp_path, KeyError("x"))
    assert read_error(tmp_path) == {"type": "KeyError", "message": "'x'", "user_error": False}


def test_a_user_error_is_known_by_name_without_importing_kubeline(tmp_path: Path) -> None:
    # Under another interpreter the task's classes are not kubeline's own objects.
    user_error = type("UserError", (Exception,), {"__module__": "kubeline.errors"})
    own = type("ColumnError", (user_error,), {"__module__": "pipeline_code"})
    write_error(tmp_path, own("bad"))
    assert read_error(tmp_path) == {
        "type": "pipeline_code.ColumnError",
        "message": "bad",
        "user_error": True,
    }


def test_a_long_message_is_cut(tmp_path: Path) -> None:
    write_error(tmp_path, ValueError("x" * 100_000))
    found = read_error(tmp_path)
    assert found is not None and len(found["message"]) <= 4000


def test_an_error_file_is_not_trusted_beyond_its_size_and_shape(tmp_path: Path) -> None:
    path = error_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"type": "X", "message": "m" * MAX_ERROR_BYTES}))
    assert read_error(tmp_path) is None  # too large
    for text in ("not json", "[1, 2]", '{"type": 3, "message": "m"}', '{"type": "X"}'):
        path.write_text(text)
        assert read_error(tmp_path) is None
    path.write_text('{"type": "X", "message": "m", "user_error": "yes"}')
    assert read_error(tmp_path) == {"type": "X", "message": "m", "user_error": False}


def test_an_earlier_attempts_error_is_cleared(tmp_path: Path) -> None:
    write_error(tmp_path, ValueError("first attempt"))
    clear_error(tmp_path)
    clear_error(tmp_path)  # and nothing to clear is fine
    assert read_error(tmp_path) is None


def test_kfps_command_line_is_built_from_the_jobs_data() -> None:
    argv = executor_argv("/t/.program/ephemeral_component.py", '{"inputs": {}}', "train")
    assert argv[1:] == [
        "--component_module_path",
        "/t/.program/ephemeral_component.py",
        "--executor_input",
        '{"inputs": {}}',
        "--function_to_execute",
        "train",
    ]
