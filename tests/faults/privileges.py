"""Children that meet file permissions the way a plugin author's own account does.

The tests run as root, and root ignores permission bits, so "permission denied"
would never happen. A child started with ``preexec_fn=drop_file_privileges`` drops
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its bounding set before exec: it is
still uid 0 (it can run the root-owned interpreter in /root), but mode bits apply to
it like to anyone. As a non-root user nothing needs dropping.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable
from functools import cache

import pytest

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def drop_file_privileges() -> None:
    """``preexec_fn``: make the child obey permission bits (no-op for a non-root user)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@cache
def _bits_apply() -> str | None:
    """None when a child started with ``drop_file_privileges`` is refused a mode-000 file; else why not."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe")
        with open(probe, "w") as f:
            f.write("x")
        os.chmod(probe, 0)
        try:
            result = subprocess.run([sys.executable, "-c", f"open({probe!r}).read()"], preexec_fn=drop_file_privileges,
                                    capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot start a child without file privileges: {exc}"
        if "PermissionError" not in result.stderr:
            return "this machine lets the child read a mode-000 file anyway (file capabilities cannot be dropped)"
    return None


def needs_permission_bits() -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Skip (with the reason) where a child cannot be made to obey permission bits."""
    reason = _bits_apply()
    return pytest.mark.skipif(reason is not None, reason=reason or "")
