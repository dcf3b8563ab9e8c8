"""`askidcpc index` (edges.indexer): the summary lists every file not used with why and which name a duplicate
kept; --out onto a folder that is not an index is refused before anything is read; the HTML extractor's own log
lines stay out of the output unless --verbose; a large index has its search kernels compiled at build time."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from askidcpc.edges import cli, indexer
from askidcpc.edges.cli import main
from askidcpc.index import _kernels, partition
from tests.text.conftest import page, write

ARTICLE = "The bridge over the river opened in 1951 after years of work by the town's engineers.\n"


def sources(folder: Path) -> Path:
    write(folder / "warsaw.txt", ARTICLE)
    write(folder / "copy-of-warsaw.txt", ARTICLE)
    write(folder / "news" / "herald.html", page())
    write(folder / "notes.docx", b"PK\x03\x04 a word document")
    write(folder / "empty.txt", "  \n")
    write(folder / "latin1.txt", "caf\xe9 society opened.".encode("latin-1"))
    write(folder / "menu.html", "<html><body><p>Menu</p></body></html>")
    return folder


def test_the_summary_lists_every_file_not_used_and_the_name_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", str(sources(tmp_path / "src")), "--out", str(tmp_path / "index")]) == 0
    out = capsys.readouterr().out
    first, *rest = out.splitlines()
    assert first.startswith("Indexed 2 documents (") and " from 6 files into " in first
    assert "1 duplicate indexed once, under another name:" in rest
    assert f"  {tmp_path / 'src' / 'copy-of-warsaw.txt'} (copy-of-warsaw): same text as warsaw" in rest
    assert "4 not used:" in rest
    reasons = {Path(line.strip().split(": ", 1)[0]).name: line for line in rest if line.startswith("  ")}
    assert "unsupported file type .docx" in reasons["notes.docx"]
    assert "no article text" in reasons["empty.txt"]
    assert "not UTF-8" in reasons["latin1.txt"]
    assert "only 1 word)" in reasons["menu.html"]


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("foreign-folder", 1),  # a folder of other files: refused
        ("a-file", 1),  # a file: refused
        ("empty-folder", 0),  # an empty folder: written into
        ("new", 0),  # nothing there yet
    ],
)
def test_out_onto_what_is_not_an_index_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], target: str, status: int
) -> None:
    (tmp_path / "foreign-folder").mkdir()
    write(tmp_path / "foreign-folder" / "thesis.tex", "precious")
    write(tmp_path / "a-file", "precious")
    (tmp_path / "empty-folder").mkdir()
    reads: list[Path] = []
    original = indexer.ingest
    monkeypatch.setattr(
        indexer, "ingest", lambda paths, on_file=None: reads.append(paths[0]) or original(paths, on_file)
    )
    assert main(["index", str(sources(tmp_path / "src")), "--out", str(tmp_path / target)]) == status
    err = capsys.readouterr().err
    if status:
        assert reads == []
        assert err.count("\n") == 1 and ("is not a saved index" in err or "is not a folder" in err)
        assert (tmp_path / "a-file").read_text() == "precious"
        assert (tmp_path / "foreign-folder" / "thesis.tex").read_text() == "precious"
    else:
        assert reads == [tmp_path / "src"]
        assert (tmp_path / target / "manifest.json").is_file()


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "askidcpc", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
@pytest.mark.parametrize("verbose", [False, True])
def test_library_log_lines_only_with_verbose(tmp_path: Path, verbose: bool) -> None:
    """trafilatura logs its own remarks on a page that is not HTML ("parsed tree length: ..., wrong data type or
    not valid HTML"); they are not askidcpc's messages, so they show only with --verbose, under their own name."""
    folder = sources(tmp_path / "src")
    write(folder / "binary.html", b"\x00\x01\x02")
    write(folder / "blank.html", "x")
    done = run_cli(
        "index", str(folder), "--out", str(tmp_path / "index"), *(["--verbose"] if verbose else []), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    library_lines = [line for line in done.stderr.splitlines() if line.startswith("trafilatura")]
    assert bool(library_lines) is verbose
    assert not any(line.startswith("askidcpc:") for line in done.stderr.splitlines())
    assert "binary.html: no article text" in done.stdout


@pytest.mark.slow
def test_a_large_index_has_its_kernels_compiled_when_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the threshold at 0 every index is "large": building one prepares the search of the saved (memory-mapped)
    index, so the kernels for its array types are compiled (and cached) before a first question needs them."""
    if not _kernels.NUMBA_AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", 0)
    monkeypatch.setattr(_kernels, "_first_calls", set())
    assert main(["index", str(sources(tmp_path / "src")), "--out", str(tmp_path / "index")]) == 0
    read_only = {key[0] for key in _kernels._first_calls if not key[1][2]}  # (kernel, (dtype, ndim, writeable), ...)
    assert {"top_k", "score_rows"} <= read_only


@pytest.mark.parametrize(
    ("verbose", "tty", "shown"),
    [
        (False, False, ["askidcpc: skipped a.txt"]),
        (True, False, ["trafilatura.core: parsed tree length: 1", "askidcpc: skipped a.txt"]),
        (False, True, ["askidcpc: skipped a.txt", "askidcpc: " + _kernels.COMPILE_NOTICE]),
    ],
)
def test_what_the_command_line_logs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], verbose: bool, tty: bool, shown: list[str]
) -> None:
    """askidcpc's warnings always; another library's only with --verbose; the compiling notice (INFO) on a terminal."""
    root = logging.getLogger()
    kernels_log = logging.getLogger(_kernels.__name__)
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh process (pytest's own handlers come back afterwards)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    # As in a fresh process, no askidcpc logger has a level of its own (`serve`, run by other tests, sets one).
    # setLevel, not the attribute: it also clears the loggers' cached levels.
    loggers = [root, logging.getLogger("askidcpc"), kernels_log]
    levels = [logger.level for logger in loggers]
    for logger in loggers[1:]:
        logger.setLevel(logging.NOTSET)
    try:
        cli._configure_logging(verbose)
        logging.getLogger("trafilatura.core").error("parsed tree length: 1")
        logging.getLogger("askidcpc.text.corpus").warning("skipped a.txt")
        kernels_log.info(_kernels.COMPILE_NOTICE)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    assert capsys.readouterr().err.splitlines() == shown


# --- --jobs: worker processes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["SRC", "--out", "IDX", "--jobs", "0"],
        ["SRC", "--out", "IDX", "--jobs", "two"],
        ["--add", "SRC", "--to", "IDX", "--jobs", "2"],
        ["--remove", "warsaw", "--from", "IDX", "--jobs", "2"],
    ],
)
def test_jobs_must_be_a_positive_number_and_goes_with_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    folder = str(sources(tmp_path / "src"))
    argv = ["index", *(folder if arg == "SRC" else str(tmp_path / "index") if arg == "IDX" else arg for arg in args)]
    assert main(argv) == 2
    assert not (tmp_path / "index").exists()
    assert "--jobs" in capsys.readouterr().err


def news(folder: Path, documents: int) -> Path:
    """A JSON Lines archive of ``documents`` different small articles of a few paragraphs."""
    words = ARTICLE.split()
    lines = []
    for i in range(documents):
        paragraphs = [f"Story {i} part {j}: " + " ".join(words[(i + j) % 7 :] + words[: (i + j) % 7]) for j in range(3)]
        lines.append(json.dumps({"id": f"n{i}", "title": f"News {i}", "text": "\n\n".join(paragraphs)}))
    return write(folder / "news.jsonl", "\n".join(lines) + "\n")


def test_jobs_build_the_same_index_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = news(tmp_path / "src", 120)
    monkeypatch.setattr(partition, "PARALLEL_CHARS", 0)  # workers even for this small archive
    monkeypatch.setattr(partition, "PARTITION_CHARS", 2000)
    for jobs in ("1", "2"):
        assert main(["index", str(archive), "--out", str(tmp_path / jobs), "--jobs", jobs]) == 0
    for name in sorted(path.name for path in (tmp_path / "1").iterdir() if path.suffix == ".npy"):
        assert (tmp_path / "2" / name).read_bytes() == (tmp_path / "1" / name).read_bytes(), name


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_with_one_line_and_leaves_the_old_index(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group (the command and its workers): one line, status 130, the old index
    as it was, and no worker left running."""
    archive = news(tmp_path / "src", 6000)  # about 2 MB of text: seconds of splitting
    old = write(tmp_path / "old" / "warsaw.txt", ARTICLE)
    assert run_cli("index", str(old), "--out", str(tmp_path / "index"), cwd=tmp_path).returncode == 0
    before = (tmp_path / "index" / "manifest.json").read_bytes()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "askidcpc", "index", str(archive), "--out", str(tmp_path / "index"), "--jobs", "2"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:  # the workers are started once the archive is read
        workers = set(children(process.pid))
        time.sleep(0.1)
    assert len(workers) == 2
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "askidcpc: interrupted" and "Traceback" not in stderr
    assert (tmp_path / "index" / "manifest.json").read_bytes() == before
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []
