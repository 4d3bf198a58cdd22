"""Whether the process behind a run still lives: how the CLI and the server find runs that a
crash left RUNNING (see :meth:`kubeline.store.runs.Runs.fail_orphaned`)."""

from __future__ import annotations

import os
import socket
import sys

from kubeline.store.records import RunRecord

__all__ = ["process_alive"]


def process_alive(run: RunRecord) -> bool:
    """Whether the process that runs ``run`` still lives.

    Only this host's processes can be checked: a run of another host (or with no host, as
    on a cluster) counts as alive. A run on this host with no pid counts as dead. A pid the
    system has since given to another process counts as alive: rare, and the safe mistake.
    """
    if run.host != socket.gethostname():
        return True
    if run.pid is None:
        return False
    return _pid_alive(run.pid)


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
    _ERROR_ACCESS_DENIED = 5
    _STILL_ACTIVE = 259

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    _kernel32.OpenProcess.restype = wintypes.HANDLE
    _kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    _kernel32.GetExitCodeProcess.restype = wintypes.BOOL
    _kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    _kernel32.CloseHandle.restype = wintypes.BOOL

    def _pid_alive(pid: int) -> bool:
        # os.kill on Windows terminates the process whatever the signal, so ask the kernel.
        if pid <= 0:
            return False
        handle = _kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            # Access denied: it exists but belongs to someone else. Anything else: gone.
            return ctypes.get_last_error() == _ERROR_ACCESS_DENIED
        try:
            code = wintypes.DWORD()
            if not _kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True  # cannot tell; failing a live run is the worse mistake
            return code.value == _STILL_ACTIVE
        finally:
            _kernel32.CloseHandle(handle)

else:

    def _pid_alive(pid: int) -> bool:
        if pid <= 0:
            return False  # 0 and negative pids name process groups, not a process
        try:
            os.kill(pid, 0)  # signal 0: checks the pid, delivers nothing
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # it exists, owned by another user
        except OverflowError:
            return False  # larger than any pid
        return True
