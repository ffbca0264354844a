"""The edges of the command line: one-line errors for every bad value, Unix paths, outputs, checkpoints.

Usage errors are checked through :func:`distant.cli.main`, the console script's entry point, which turns
them into one line (typer's test runner shows click's own multi-line box instead).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from distant import atomic
from distant.cli import app, main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
CONFIG = ROOT / "configs" / "sample.toml"
GOLD = SAMPLE / "gold.pubtator"
TINY = ["--set", "train.epochs=1", "--set", "pretrain.epochs=0", "--set", "model.charlm.hidden_size=16",
        "--set", "model.hidden_size=16"]
runner = CliRunner()


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run the console script's ``main`` in-process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as end:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return end.value.code, out.out, out.err


def assert_one_line(code: int, err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("distant: error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args,needle", [
    (["predict", SAMPLE, GOLD, "-o", "x.jsonl", "--device", "gpu"], "--device"),
    (["predict", SAMPLE, GOLD, "-o", "x.jsonl", "--device", "tpu"], "--device"),
    (["predict", SAMPLE, GOLD, "-o", "x.jsonl", "--batch-size", "0"], "--batch-size"),
    (["predict", SAMPLE, GOLD, "-o", "x.jsonl", "--threads", "-1"], "--threads"),
    (["label", GOLD, "-o", "x.jsonl", "--dict", SAMPLE / "dict.tsv", "--unmatched", "maybe"], "--unmatched"),
    (["label", GOLD, "-o", "x.jsonl", "--dict", SAMPLE / "dict.tsv", "--workers", "0"], "--workers"),
    (["pretrain-lm", CONFIG, "-o", "lm", "--epochs", "-1"], "--epochs"),
    (["convert", GOLD, "x.conll", "--scheme", "XYZ"], "scheme"),
    (["evaluate", GOLD, GOLD, "--scheme", "BIOLU"], "scheme"),
    (["train", CONFIG, "-o", "run", "--device", "cuda:x"], "--device"),
    (["label", "--no-such-option"], "--no-such-option"),
    (["convert", GOLD], "the output"),
])
def test_bad_options_are_one_line(capsys, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, *args)
    assert_one_line(code, err, needle)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", [["predict", SAMPLE, GOLD, "-o", "x.jsonl"], ["pretrain-lm", CONFIG, "-o", "lm"],
                                     ["train", CONFIG, "-o", "run", *TINY]])
def test_cuda_without_cuda_is_one_line(capsys, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, *command, "--device", "cuda")
    assert_one_line(code, err, "CUDA is not available")


def test_version_verbose_after_the_command_and_help_text(capsys):
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.startswith("distant ")
    code, out, err = cli(capsys, "evaluate", GOLD, GOLD, "-v")
    assert code == 0 and "micro" in out
    code, out, _ = cli(capsys, "pretrain-lm", "--help")
    assert code == 0 and "[model.charlm]" in out and "[pretrain]" in out


@pytest.mark.parametrize("override,needle", [
    ("train.batch_size=-1", "train.batch_size"),
    ("train.batch_size=0", "train.batch_size"),
    ("model.dropout=2.0", "model.dropout"),
    ("model.dropout=1.0", "model.dropout"),
    ("model.hidden_size=0", "model.hidden_size"),
    ("train.patience=-1", "train.patience"),
    ("train.lr=-0.01", "train.lr"),
    ("train.lr=nan", "train.lr"),
    ("train.epochs=0", "train.epochs"),
    ('data.types=["Chem ical","O"]', "data.types"),
    ("model.charlm.lm_cutoffs=[50,10]", "lm_cutoffs"),
    ("train.device=tpu", "train.device"),
    ("data.test=nowhere.pubtator", "data.test"),
    ('labelers.0.dicts=["${DISTANT_NO_SUCH_VARIABLE}/dict.tsv"]', "DISTANT_NO_SUCH_VARIABLE"),
    ("labelers.0.dicts=[\"missing.tsv\"]", "labelers[0].dicts"),
])
def test_bad_config_values_fail_before_any_work(capsys, tmp_path, monkeypatch, override, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "train", CONFIG, "-o", tmp_path / "run", "--set", override)
    assert_one_line(code, err, needle)
    assert not (tmp_path / "run").exists()


def test_a_run_folder_reruns_from_anywhere(tmp_path, monkeypatch):
    first = tmp_path / "first"
    assert runner.invoke(app, ["train", str(CONFIG), "-o", str(first), *TINY]).exit_code == 0
    saved = (first / "config.toml").read_text()
    assert "../data" not in saved and str(SAMPLE / "stopwords.txt") in saved
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(app, ["train", str(first / "config.toml"), "-o", "again"])
    assert result.exit_code == 0, result.output
    assert (elsewhere / "again" / "pseudo.jsonl").read_bytes() == (first / "pseudo.jsonl").read_bytes()


# -- checkpoints ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    result = runner.invoke(app, ["train", str(CONFIG), "-o", str(run), *TINY])
    assert result.exit_code == 0, result.output
    return run / "model.pt"


def _damaged(checkpoint: dict, how: str) -> dict:
    if how == "no config":
        del checkpoint["config"]
    elif how == "wrong shape":
        key = next(k for k, v in checkpoint["state_dict"].items() if v.dim() == 2)
        checkpoint["state_dict"][key] = torch.zeros(3, 3)
    elif how == "vocab not a list":
        checkpoint["inputs"]["words"]["words"]["words"] = "not a list"
    elif how == "tags not strings":
        checkpoint["tags"] = [1, 2, 3]
    elif how == "config value":
        checkpoint["config"]["dropout"] = "high"
    elif how == "unknown config key":
        checkpoint["config"]["surprise"] = 1
    elif how == "not a dict":
        return [1, 2, 3]
    return checkpoint


@pytest.mark.parametrize("how", ["no config", "wrong shape", "vocab not a list", "tags not strings", "config value",
                                 "unknown config key", "not a dict"])
def test_damaged_checkpoints_are_one_line(capsys, tmp_path, model_file, how):
    bad = tmp_path / "bad.pt"
    torch.save(_damaged(torch.load(model_file, weights_only=True), how), bad)
    code, _, err = cli(capsys, "predict", bad, GOLD, "-o", tmp_path / "x.jsonl")
    assert_one_line(code, err, str(bad))


def test_truncated_and_code_running_checkpoints_are_refused(capsys, tmp_path, model_file):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(model_file.read_bytes()[:1000])
    assert_one_line(*cli(capsys, "predict", truncated, GOLD, "-o", tmp_path / "x.jsonl")[::2], "cannot read")

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "config": Payload()}, evil)
    assert_one_line(*cli(capsys, "predict", evil, GOLD, "-o", tmp_path / "x.jsonl")[::2], "cannot read")
    assert not (tmp_path / "pwned").exists()


# -- outputs ---------------------------------------------------------------------------------------------------
def test_new_outputs_honour_the_umask_and_replaced_ones_keep_their_mode(tmp_path):
    old = os.umask(0o027)
    try:
        atomic._umask.cache_clear()
        atomic.write_text(tmp_path / "new.txt", "x")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640
        os.chmod(tmp_path / "new.txt", 0o604)
        atomic.write_text(tmp_path / "new.txt", "y")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o604
    finally:
        os.umask(old)
        atomic._umask.cache_clear()


def test_a_symlink_keeps_pointing_where_it_did(tmp_path):
    target = tmp_path / "target.jsonl"
    target.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    assert runner.invoke(app, ["convert", str(GOLD), str(link)]).exit_code == 0
    assert link.is_symlink() and target.read_text().startswith('{"id"')


def test_a_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "out.jsonl"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert runner.invoke(app, ["convert", str(GOLD), str(fifo), "--to", "jsonl"]).exit_code == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and received and received[0].count(b"\n") == 8


def test_dash_reads_stdin_and_writes_stdout():
    result = runner.invoke(app, ["convert", "-", "-", "--from", "pubtator", "--to", "jsonl"], input=GOLD.read_text())
    assert result.exit_code == 0, result.output
    assert result.stdout.count('"id"') == 8


def test_stdout_through_dev_stdout_is_not_replaced():
    result = subprocess.run([sys.executable, "-m", "distant", "convert", str(GOLD), "/dev/stdout", "--to", "jsonl"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('"id"') == 8
    assert not Path("/dev/stdout").is_file() or Path("/dev/stdout").is_symlink()


def test_stale_temporary_files_are_removed(tmp_path):
    stale = tmp_path / ".out.jsonl.999999999.abcd1234.tmp"
    stale.write_text("half")
    live = tmp_path / f".out.jsonl.{os.getpid()}.abcd1234.tmp"
    live.write_text("mine")
    atomic._cleaned.discard(os.fspath(tmp_path.resolve()))
    atomic.write_text(tmp_path / "out.jsonl", "x")
    assert not stale.exists() and live.exists()


def test_an_unwritable_output_names_the_output(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", args[0])

    monkeypatch.setattr(atomic.os, "open", refuse)
    with pytest.raises(atomic.DistantError) as error:
        atomic.write_text(tmp_path / "out.jsonl", "x")
    assert str(error.value).startswith(str(tmp_path / "out.jsonl")) and ".tmp" not in str(error.value)


def test_a_broken_pipe_ends_quietly(tmp_path):
    # 200 copies of the sample: more than a pipe holds, so the writer meets the closed pipe
    script = (f"for i in $(seq 200); do cat {GOLD}; done > big.pubtator; {sys.executable} -m distant convert "
              "big.pubtator - --to jsonl 2>err.txt | head -c 10 >/dev/null; echo ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert (tmp_path / "err.txt").read_text() == ""
    assert result.stdout.strip() == "141"


def test_evaluate_a_layer_no_document_has(capsys):
    code, _, err = cli(capsys, "evaluate", GOLD, GOLD, "--pred-layer", "typo")
    assert_one_line(code, err, "typo", "gold")


def test_evaluate_plain_text_predictions_is_an_error(capsys):
    code, _, err = cli(capsys, "evaluate", GOLD, SAMPLE / "abstracts.txt")
    assert_one_line(code, err, "no span layer")
