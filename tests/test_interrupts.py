"""The one interrupt policy (devnode/interrupts.py): real signals on a real loop; the pty tests cover the UIs."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from conftest import async_wait_until
from devnode.interrupts import NOTICE, Interrupts


def test_a_claimed_ctrl_c_is_the_uis_but_sigterm_always_stops_the_node() -> None:
    stops: list[str] = []
    notices: list[str] = []
    claims: list[bool] = []

    async def main() -> None:
        interrupts = Interrupts(stops.append)
        interrupts.claim = lambda: claims.append(True) or True  # a prompt is open: the UI takes every Ctrl-C
        interrupts.announce = notices.append
        interrupts.install(asyncio.get_running_loop())
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        await async_wait_until(lambda: len(claims) == 2, what="both Ctrl-Cs offered to the UI")
        assert stops == [] and interrupts.count == 0
        os.kill(os.getpid(), signal.SIGTERM)
        await async_wait_until(lambda: stops, what="SIGTERM stopping the node")
        assert len(claims) == 2  # SIGTERM is not offered to the UI

    asyncio.run(main())  # closing the loop removes its signal handlers
    assert stops == ["interrupted"] and notices == [NOTICE]


def test_the_second_interrupt_puts_the_terminal_back_and_exits_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exited(Exception):
        pass

    def fake_exit(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    stops: list[str] = []
    restored: list[bool] = []
    interrupts = Interrupts(stops.append)
    interrupts.announce = lambda notice: None
    interrupts.before_forced_exit = lambda: restored.append(True)
    interrupts.interrupted(from_keyboard=False)
    assert stops == ["interrupted"] and not restored
    with pytest.raises(Exited) as exited:
        interrupts.interrupted()
    assert exited.value.args == (130,) and restored == [True]
