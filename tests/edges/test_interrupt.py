"""How a command ends on Ctrl-C (edges.interrupt): one line, status 130, and no further Ctrl-C on its way out."""

from __future__ import annotations

import signal

import pytest

from askidcpc.edges import interrupt


@pytest.mark.usefixtures("sigint_handler")
def test_an_interrupted_command_ignores_further_ctrl_c_on_its_way_out(capsys: pytest.CaptureFixture[str]) -> None:
    """Python puts Ctrl-C's default action back while the interpreter exits: one pressed then would end the
    process by the signal (status -2), not with 130."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert interrupt.interrupted() == 130
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert capsys.readouterr().err == "askidcpc: interrupted\n"
