"""The command's entry point (edges.launch): a Ctrl-C while the command's modules import ends it with one line."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest

from askidcpc.edges import launch


class _InterruptedImport(importlib.abc.MetaPathFinder):
    """Ctrl-C arriving while ``askidcpc.edges.cli`` imports."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "askidcpc.edges.cli":
            raise KeyboardInterrupt
        return None


@pytest.mark.usefixtures("sigint_handler")
def test_ctrl_c_while_importing_is_one_line_and_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "askidcpc.edges.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptedImport(), *sys.meta_path])
    assert launch.main(["--version"]) == 130
    assert capsys.readouterr().err == "askidcpc: interrupted\n"


def test_otherwise_it_is_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        launch.main(["--version"])
    assert raised.value.code == 0
    assert "askidcpc" in capsys.readouterr().out
