"""The ``distant`` command line: one thin command per pipeline stage, each calling one library function."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from distant.errors import DistantError

app = typer.Typer(
    name="distant",
    help="Weakly supervised NER from dictionaries and patterns: label, train, predict, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
labelers_app = typer.Typer(help="Inspect labelers.", no_args_is_help=True)
debias_app = typer.Typer(help="Label-distribution shift correction.", no_args_is_help=True)
app.add_typer(labelers_app, name="labelers")
app.add_typer(debias_app, name="debias")

log = logging.getLogger("distant")


class Fmt(str, Enum):
    text = "text"
    pubtator = "pubtator"
    conll = "conll"
    jsonl = "jsonl"
    docbin = "docbin"
    ck = "ck"


def _fmt(value: Fmt | None) -> str | None:
    return None if value is None else value.value


def fail(message: str) -> None:
    """Print one error line on stderr and exit with code 2."""
    typer.echo(f"distant: error: {message}", err=True)
    raise typer.Exit(2)


def user_errors(fn: Callable) -> Callable:
    """Turn :class:`DistantError` (bad input) into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DistantError as e:
            fail(str(e))
        except OSError as e:  # unreadable input, unwritable output
            fail(f"{e.filename or ''}: {e.strerror or e}")
        except KeyboardInterrupt:
            typer.echo("distant: interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="distant: %(levelname)s: %(message)s", stream=sys.stderr, force=True)


# -- formats and evaluation ---------------------------------------------------------------------------------
@app.command()
@user_errors
def convert(
    src: Annotated[Path, typer.Argument(help="Input file or folder.")],
    dst: Annotated[Path, typer.Argument(help="Output file.")],
    src_format: Annotated[Optional[Fmt], typer.Option("--from", help="Input format (default: by extension).")] = None,
    dst_format: Annotated[Optional[Fmt], typer.Option("--to", help="Output format (default: by extension).")] = None,
    layer: Annotated[str, typer.Option(help="Span layer to read into and write from.")] = "gold",
    scheme: Annotated[str, typer.Option(help="Tag scheme for CoNLL output: IOB2, IOB1, IOBES, IO.")] = "IOB2",
) -> None:
    """Convert a corpus between formats (text, PubTator, CoNLL, JSONL, spaCy DocBin, AutoNER .ck)."""
    from distant.formats import convert as run

    n = run(src, dst, _fmt(src_format), _fmt(dst_format), layer=layer, scheme=scheme)
    log.info("wrote %d documents to %s", n, dst)


@app.command()
@user_errors
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Gold file (PubTator, JSONL, CoNLL, ...).")],
    pred: Annotated[Path, typer.Argument(help="Predictions on the same documents.")],
    gold_format: Annotated[Optional[Fmt], typer.Option("--gold-format", help="Gold format (default: detect).")] = None,
    pred_format: Annotated[Optional[Fmt], typer.Option("--pred-format", help="Prediction format (default: detect).")] = None,
    gold_layer: Annotated[str, typer.Option(help="Layer of gold spans in JSONL input.")] = "gold",
    pred_layer: Annotated[Optional[str], typer.Option(help="Layer of predicted spans in JSONL input "
                                                      "(default: pred, else pseudo, else gold).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    errors: Annotated[Optional[Path], typer.Option(help="Write false positives and negatives (TSV) here.")] = None,
) -> None:
    """Score predictions against gold: strict entity-level precision, recall and F1, micro and per type."""
    from distant.atomic import write_text
    from distant.evaluate import evaluate as run, format_errors, format_table
    from distant.formats import read_documents

    gold_docs = read_documents(gold, _fmt(gold_format), layer="gold")
    pred_docs = read_documents(pred, _fmt(pred_format), layer="pred")
    layer = pred_layer or next((name for name in ("pred", "pseudo", "gold")
                                if any(name in d.layers for d in pred_docs)), "pred")
    result = run(gold_docs, pred_docs, gold_layer=gold_layer, pred_layer=layer, gold_name=str(gold),
                 pred_name=str(pred))
    if errors is not None:
        write_text(errors, format_errors(result))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        typer.echo(format_table(result))


# -- labeling -----------------------------------------------------------------------------------------------
def _labelers(dicts, unknown, stopwords, patterns, config, abbreviations, unmatched):
    from distant.labelers.pipeline import labelers_from_args

    return labelers_from_args(dicts or [], unknown or [], stopwords, patterns or [], config,
                              abbreviations=abbreviations, unmatched=unmatched)


DictOpt = Annotated[Optional[list[Path]], typer.Option("--dict", help="Typed dictionary Type<TAB>surface[<TAB>kb_id] (repeatable).")]
UnknownOpt = Annotated[Optional[list[Path]], typer.Option("--unknown", help="Untyped phrase list: matches get no label, not O (repeatable).")]
StopOpt = Annotated[Optional[Path], typer.Option("--stopwords", help="Single-token matches to skip.")]
PatternOpt = Annotated[Optional[list[Path]], typer.Option("--patterns", help="Regex table (TSV: label, name, ignore_case, regex) (repeatable).")]
LabelConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="Labelers and aggregation in TOML, instead of the flags.")]
AbbrOpt = Annotated[bool, typer.Option("--abbreviations/--no-abbreviations", help="Label short forms defined in the text.")]
UnmatchedOpt = Annotated[str, typer.Option("--unmatched", help="Tokens no labeler covers: O or unknown.")]


@app.command()
@user_errors
def label(
    inputs: Annotated[list[Path], typer.Argument(help="Input files (any supported format).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file: .jsonl, .conll, .pubtator, .spacy.")],
    dicts: DictOpt = None, unknown: UnknownOpt = None, stopwords: StopOpt = None, patterns: PatternOpt = None,
    config: LabelConfigOpt = None, abbreviations: AbbrOpt = True, unmatched: UnmatchedOpt = "O",
    src_format: Annotated[Optional[Fmt], typer.Option("--from", help="Input format (default: detect).")] = None,
    dst_format: Annotated[Optional[Fmt], typer.Option("--to", help="Output format (default: by extension).")] = None,
    workers: Annotated[int, typer.Option(help="Processes to label with.")] = 1,
) -> None:
    """Mark raw text with pseudo-labels from dictionaries and patterns (the 'pseudo' layer)."""
    from rich.console import Console
    from rich.progress import Progress

    from distant.formats import read_documents, write_documents
    from distant.labelers.pipeline import label_documents, summary_table

    labelers, aggregator = _labelers(dicts, unknown, stopwords, patterns, config, abbreviations, unmatched)
    docs = [doc for path in inputs for doc in read_documents(path, _fmt(src_format), layer="gold")]
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("labeling", total=len(docs))
        stats = label_documents(docs, labelers, aggregator, workers=workers,
                                progress=lambda n: bar.advance(task, n))
    write_documents(docs, output, _fmt(dst_format), layer="pseudo")
    console.print(summary_table(stats), highlight=False)


@labelers_app.command("report")
@user_errors
def labelers_report(
    gold: Annotated[Path, typer.Argument(help="Gold documents (PubTator, JSONL, CoNLL, ...).")],
    dicts: DictOpt = None, unknown: UnknownOpt = None, stopwords: StopOpt = None, patterns: PatternOpt = None,
    config: LabelConfigOpt = None, abbreviations: AbbrOpt = True, unmatched: UnmatchedOpt = "O",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Label the gold documents' text and report coverage, overlaps, conflicts and P/R/F1 per labeler."""
    from distant.formats import read_documents
    from distant.labelers.pipeline import label_documents
    from distant.labelers.report import format_report, labelers_report as run

    labelers, aggregator = _labelers(dicts, unknown, stopwords, patterns, config, abbreviations, unmatched)
    docs = read_documents(gold, layer="gold")
    label_documents(docs, labelers, aggregator)
    report = run(docs, [lab.name for lab in labelers])
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@debias_app.command("report")
@user_errors
def debias_report(
    run_dir: Annotated[Path, typer.Argument(help="A training run folder (its debias.json).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show the pseudo-label vs estimated target tag distributions and the corrections a run applied."""
    from distant.debias.report import format_report, load_report

    report = load_report(run_dir)
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else format_report(report))


# -- training and prediction --------------------------------------------------------------------------------
def _progress_printer(console):
    """Return a callback that draws training events with a rich progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), console=console, transient=True)
    state = {"task": None, "epoch": None}

    def callback(event: dict) -> None:
        kind = event.get("event")
        if kind == "stage":
            console.print(f"[bold]{event['message']}[/bold]")
        elif kind == "step":
            if state["epoch"] != event["epoch"]:
                if state["task"] is not None:
                    bar.remove_task(state["task"])
                else:
                    bar.start()
                state["task"] = bar.add_task(f"epoch {event['epoch']}", total=event["steps"], info="")
                state["epoch"] = event["epoch"]
            bar.update(state["task"], completed=event["step"],
                       info=f"loss {event['loss']:.3f}  {event['words_per_s']:,.0f} words/s")
        elif kind == "epoch":
            dev = event["dev"]
            console.print(f"epoch {event['epoch']:>3}  loss {event['loss']:.4f}  dev P {dev['precision']:.4f} "
                          f"R {dev['recall']:.4f} F1 {dev['f1']:.4f}  {event['words_per_s']:,.0f} words/s  "
                          f"{event['seconds']:.0f}s")
        elif kind == "lm_step" and event["step"] % 50 == 0:
            console.print(f"  char LM epoch {event['epoch']} step {event['step']}  loss {event['loss']:.3f}  "
                          f"{event['chars_per_s']:,.0f} chars/s")
        elif kind == "done" and state["task"] is not None:
            bar.stop()

    return callback


@app.command()
@user_errors
def train(
    config: Annotated[Path, typer.Argument(help="Run config (TOML), e.g. configs/bc5cdr.toml.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Run folder to write (or to resume).")],
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: train.epochs=3.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run in the output folder.")] = False,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or cuda:N (default: the config's).")] = None,
    workers: Annotated[int, typer.Option(help="Processes for labeling.")] = 1,
) -> None:
    """Pseudo-label the configured text, train the tagger, and evaluate it on the configured gold test set."""
    from rich.console import Console

    from distant.train import load_config, run_training

    run_config = config
    if resume and (output / "config.toml").is_file() and not config.is_file():
        run_config = output / "config.toml"
    cfg = load_config(run_config, overrides or [])
    console = Console(stderr=True)
    callback = _progress_printer(console)
    try:
        report = run_training(cfg, output, config_path=run_config, resume=resume, device=device, workers=workers,
                              progress=callback)
    finally:
        callback({"event": "done"})
    test = report.get("test")
    summary = {"run": str(output), "best_epoch": report["train"]["best_epoch"], "dev": report["dev"].get("scores")}
    if test:
        summary["test"] = {k: round(v, 4) for k, v in test["micro"].items() if k in ("precision", "recall", "f1")}
    typer.echo(json.dumps(summary))


@app.command()
@user_errors
def predict(
    model: Annotated[Path, typer.Argument(help="A run folder (its model.pt) or a checkpoint file.")],
    inputs: Annotated[list[Path], typer.Argument(help="Raw text or any supported format.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file (format by extension).")],
    src_format: Annotated[Optional[Fmt], typer.Option("--from", help="Input format (default: detect).")] = None,
    dst_format: Annotated[Optional[Fmt], typer.Option("--to", help="Output format (default: by extension).")] = None,
    batch_size: Annotated[int, typer.Option(help="Sentences per batch.")] = 128,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
) -> None:
    """Tag documents with a trained model: spans with character offsets and confidences."""
    from distant.formats import read_documents, write_documents
    from distant.predict import load_model, predict_documents
    from distant.train import resolve_device

    dev = resolve_device(device)
    tagger = load_model(model, dev)
    docs = [doc for path in inputs for doc in read_documents(path, _fmt(src_format), layer="gold")]
    stats = predict_documents(tagger, docs, batch_size=batch_size, device=dev)
    write_documents(docs, output, _fmt(dst_format), layer="pred")
    log.info("tagged %d documents, %d sentences (%.0f sentences/s), %d spans", stats["documents"],
             stats["sentences"], stats["sentences_per_s"], stats["spans"])


@app.command("pretrain-lm")
@user_errors
def pretrain_lm(
    config: Annotated[Path, typer.Argument(help="Run config (TOML): its [model.charlm], [train] and [data] text.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for charlm.pt (give it to train.charlm).")],
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key.")] = None,
    text: Annotated[Optional[list[Path]], typer.Option(help="Raw text to pre-train on (default: data.train + data.extra_text).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the text (default: train.pretrain_epochs or 1).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
) -> None:
    """Pre-train the character language model on unlabeled text, once, for reuse by training runs."""
    from rich.console import Console

    from distant.corpus import chunk_words, chunks, read_corpus
    from distant.train import CHARLM_FILE, load_config, pretrain_lm as run, resolve_device

    cfg = load_config(config, overrides or [])
    cfg.train.pretrain_epochs = epochs or cfg.train.pretrain_epochs or 1
    docs = read_corpus(text or [*cfg.data.train, *cfg.data.extra_text])
    sentences = chunk_words(docs, chunks(docs, cfg.data.max_tokens))
    run(sentences, cfg, output / CHARLM_FILE, resolve_device(device), _progress_printer(Console(stderr=True)))
    typer.echo(str(output / CHARLM_FILE))


def main() -> None:
    """Run the app (usage errors exit with code 2; bad input with one line on stderr and code 2)."""
    app()
