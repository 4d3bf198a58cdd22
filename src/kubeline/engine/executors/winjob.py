"""Windows' process tree: a Job object per host task.

Every process a task's process starts joins its Job, so terminating the Job ends the whole
tree, and the Job is created with *kill on close*: when the engine dies, Windows closes its
handle and ends the tree. Built on the Win32 API through ctypes; not run on the Linux
machines the test suite runs on (the POSIX path is :mod:`.tree`).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

__all__ = ["WindowsJob", "attach_job"]


class WindowsJob:
    """A Job object holding one task's processes."""

    def __init__(self, handle: int, kernel32: Any) -> None:
        self._handle = handle
        self._kernel32 = kernel32

    def terminate(self, code: int = 1) -> None:
        """End every process of the Job."""
        if self._handle:
            self._kernel32.TerminateJobObject(self._handle, code)

    def close(self) -> None:
        """Let go of the Job (its processes end: kill on close)."""
        if self._handle:
            self._kernel32.CloseHandle(self._handle)
            self._handle = 0


def attach_job(process: subprocess.Popen[bytes]) -> WindowsJob | None:
    """Put ``process`` (just started) in a new kill-on-close Job; None off Windows or when
    the Job cannot be made (the task then runs without one, as before)."""
    if sys.platform != "win32":
        return None
    return _attach_windows(process)


if sys.platform == "win32":  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    _JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
    _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9

    class _IoCounters(ctypes.Structure):
        _fields_ = [(name, ctypes.c_ulonglong) for name in (
            "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
            "ReadTransferCount", "WriteTransferCount", "OtherTransferCount",
        )]  # fmt: skip

    class _BasicLimits(ctypes.Structure):
        _fields_ = [
            ("PerProcessUserTimeLimit", ctypes.c_int64),
            ("PerJobUserTimeLimit", ctypes.c_int64),
            ("LimitFlags", wintypes.DWORD),
            ("MinimumWorkingSetSize", ctypes.c_size_t),
            ("MaximumWorkingSetSize", ctypes.c_size_t),
            ("ActiveProcessLimit", wintypes.DWORD),
            ("Affinity", ctypes.c_size_t),
            ("PriorityClass", wintypes.DWORD),
            ("SchedulingClass", wintypes.DWORD),
        ]

    class _ExtendedLimits(ctypes.Structure):
        _fields_ = [
            ("BasicLimitInformation", _BasicLimits),
            ("IoInfo", _IoCounters),
            ("ProcessMemoryLimit", ctypes.c_size_t),
            ("JobMemoryLimit", ctypes.c_size_t),
            ("PeakProcessMemoryUsed", ctypes.c_size_t),
            ("PeakJobMemoryUsed", ctypes.c_size_t),
        ]

    def _attach_windows(process: subprocess.Popen[bytes]) -> WindowsJob | None:
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.CreateJobObjectW.restype = wintypes.HANDLE
        handle = kernel32.CreateJobObjectW(None, None)
        if not handle:
            return None
        limits = _ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = _JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        ok = kernel32.SetInformationJobObject(
            handle,
            _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
            ctypes.byref(limits),
            ctypes.sizeof(limits),
        )
        # Popen keeps the process handle as ``_handle``; a process started a moment ago
        # has had little time to start children outside the Job.
        process_handle = int(getattr(process, "_handle", 0))
        if not ok or not kernel32.AssignProcessToJobObject(handle, process_handle):
            kernel32.CloseHandle(handle)
            return None
        return WindowsJob(handle, kernel32)

else:

    def _attach_windows(process: subprocess.Popen[bytes]) -> WindowsJob | None:
        return None
