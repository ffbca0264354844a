"""The ``distant`` command line: one thin command per pipeline stage, each calling one library function.

Every error a user can cause ends the same way: one line on stderr, ``distant: error: ...``, and exit code 2.
That holds for bad input (:class:`~distant.errors.DistantError`), unreadable or unwritable files, and usage
errors (an unknown option, a bad value), which click would otherwise print as a box of several lines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

try:  # typer vendors click from 0.2x on; its exceptions are not click's
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoArgsIsHelpError, UsageError

from distant import __version__
from distant.errors import DistantError
from distant.formats import FORMATS

app = typer.Typer(
    name="distant",
    help="Weakly supervised NER from dictionaries and patterns: label, train, predict, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,  # help texts show [model.charlm] and the like as written
)
labelers_app = typer.Typer(help="Inspect labelers.", no_args_is_help=True, rich_markup_mode=None)
debias_app = typer.Typer(help="Label-distribution shift correction.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(labelers_app, name="labelers")
app.add_typer(debias_app, name="debias")

log = logging.getLogger("distant")
SIGPIPE_EXIT = 141  # what a shell reports for a process ended by SIGPIPE (`distant ... | head`)


# The formats a command reads and writes: every one in the registry (distant.formats.FORMATS).
Fmt = Enum("Fmt", {name: name for name in FORMATS}, type=str)


class Engine(str, Enum):
    local = "local"
    ray = "ray"


class Unmatched(str, Enum):
    O = "O"  # noqa: E741 (the tag's name)
    unknown = "unknown"


def _fmt(value: Fmt | None) -> str | None:
    return None if value is None else value.value


def _scheme(value: str | None) -> str | None:
    """Check a tag scheme option (IOB2, IOB1, IOBES, IO, or an alias such as BIO or BILOU)."""
    if value is None:
        return None
    from distant.tags import TagError, scheme_name

    try:
        return scheme_name(value)
    except TagError as e:
        raise typer.BadParameter(str(e)) from None


def _device(value: str | None) -> str | None:
    """Check a device option's spelling (whether the machine has it is checked when the device is used)."""
    if value is None:
        return None
    from distant.device import check_device_name

    try:
        check_device_name(value)
    except ValueError as e:
        raise typer.BadParameter(str(e).removeprefix("--device: ")) from None
    return value


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="distant: %(levelname)s: %(message)s", stream=sys.stderr, force=True)


def fail(message: str) -> None:
    """Print one error line on stderr and exit with code 2."""
    typer.echo(f"distant: error: {' '.join(message.split())}", err=True)
    raise typer.Exit(2)


def command(fn: Callable) -> Callable:
    """Set up logging from the command's ``--verbose`` and turn bad input into one line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs.get("verbose"):  # -v after the command; before it, the app callback has set it up
            _configure_logging(True)
        try:
            return fn(*args, **kwargs)
        except DistantError as e:
            fail(str(e))
        except BrokenPipeError:
            # The reader went away (`distant ... | head`): stop quietly, as Unix tools do.
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(SIGPIPE_EXIT) from None
        except OSError as e:  # unreadable input, unwritable output
            where = e.filename or ""
            fail(f"{where}: {e.strerror or e}" if where else str(e.strerror or e))
        except KeyboardInterrupt:
            typer.echo("distant: interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"distant {__version__}")
        raise typer.Exit(0)


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _configure_logging(verbose)


VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Refuse benign quirks of the input (a mention text that "
                                         "differs from the text at its offsets, a repaired tag) instead of "
                                         "reading them with a warning.")]
SchemeHelp = "Tag scheme of CoNLL input: IOB2, IOB1, IOBES or IO (default: detected from the tags)."
InSchemeOpt = Annotated[Optional[str], typer.Option("--scheme", callback=_scheme, help=SchemeHelp)]
FromSchemeOpt = Annotated[Optional[str], typer.Option("--from-scheme", callback=_scheme, help=SchemeHelp)]
ToSchemeOpt = Annotated[str, typer.Option("--to-scheme", "--scheme", callback=_scheme,
                                          help="Tag scheme of CoNLL output: IOB2, IOB1, IOBES or IO.")]
FromOpt = Annotated[Optional[Fmt], typer.Option("--from", help="Input format (default: detected; needed for - "
                                                "(standard input)).")]
ToOpt = Annotated[Optional[Fmt], typer.Option("--to", help="Output format (default: by extension; needed for - "
                                              "(standard output)).")]
DeviceOpt = Annotated[str, typer.Option(callback=_device, help="auto, cpu, cuda or cuda:N.")]


# -- progress -----------------------------------------------------------------------------------------------
def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """Draw a progress bar on stderr when it is a terminal (silent otherwise); yield ``advance(n)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=_stderr_console(), transient=True,
                  disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def _read(path: Path, fmt: Fmt | None, *, layer: str, scheme: str | None, strict: bool) -> list:
    """Read documents, with a spinner while a file is read."""
    from distant.formats import read_documents

    with progress_bar(f"reading {path}"):
        return read_documents(path, _fmt(fmt), layer=layer, scheme=scheme, strict=strict)


# -- formats and evaluation ---------------------------------------------------------------------------------
InputsArg = Annotated[list[str], typer.Argument(help="Inputs: files (.gz read as they decompress), quoted globs "
                                                "('shards/*.xml.gz'), folders of shards, or - for standard input.")]
EngineOpt = Annotated[Engine, typer.Option("--engine", help="local: this process (with --workers); ray: a Ray "
                                           "cluster (--address), or a local Ray.")]
AddressOpt = Annotated[Optional[str], typer.Option("--address", help="With --engine ray: a running cluster's "
                                                   "address (ray start --head prints it); default: a local Ray.")]
ActorsOpt = Annotated[int, typer.Option("--actors", min=1, help="With --engine ray: actors working at once.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Finish a job into a folder of shards: skip the shards "
                                         "its manifest lists as done.")]
OutputHelp = ("Output: a file (format by extension; - for standard output, with --to), or a folder of shards, "
              "one per input with its stem (an existing folder, or a name ending in /; format from --to, default "
              "jsonl)")


def _ray(engine: Engine, address: str | None, actors: int, gpus: float = 0.0):
    from distant.engines import RayOptions

    if engine is not Engine.ray and (address is not None or gpus):
        raise DistantError("--address and --gpus-per-actor need --engine ray")
    return RayOptions(address=address, actors=actors, gpus_per_actor=gpus)


def _report(result, what: str) -> None:
    skipped = f", {result.skipped} shards done before (resumed)" if result.skipped else ""
    log.info("%s %d documents into %d output(s)%s", what, result.documents, result.shards, skipped)


@app.command()
@command
def convert(
    inputs: Annotated[list[str], typer.Argument(help="Inputs, then the output (a file, a folder of shards ending in "
                                                "/, or -); inputs as for distant label.")],
    src_format: FromOpt = None,
    dst_format: ToOpt = None,
    layer: Annotated[str, typer.Option(help="Span layer to read into and write from.")] = "gold",
    from_scheme: FromSchemeOpt = None,
    to_scheme: ToSchemeOpt = "IOB2",
    strict: StrictOpt = False,
    resume: ResumeOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Convert a corpus between formats (text, PubTator, CoNLL, JSONL, spaCy DocBin; .ck and PubMed XML read)."""
    from distant.engines import convert_corpus
    from distant.jobs import Reading, Writing, expand_inputs

    if len(inputs) < 2:
        raise typer.BadParameter("expected at least one input and the output", param_hint="INPUTS")
    *sources, dst = inputs
    reading = Reading(_fmt(src_format), layer, from_scheme, strict)
    with progress_bar(f"converting into {dst}"):
        result = convert_corpus(expand_inputs(sources, reading.fmt), dst, reading=reading,
                                writing=Writing(_fmt(dst_format), layer, to_scheme), resume=resume)
    _report(result, "wrote")


@app.command()
@command
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Gold file (PubTator, JSONL, CoNLL, ...; - for standard input).")],
    pred: Annotated[Path, typer.Argument(help="Predictions on the same documents.")],
    gold_format: Annotated[Optional[Fmt], typer.Option("--gold-format", help="Gold format (default: detect).")] = None,
    pred_format: Annotated[Optional[Fmt], typer.Option("--pred-format", help="Prediction format (default: detect).")] = None,
    gold_layer: Annotated[str, typer.Option(help="Layer of gold spans in JSONL input.")] = "gold",
    pred_layer: Annotated[Optional[str], typer.Option(help="Layer of predicted spans in JSONL input "
                                                      "(default: pred, else pseudo, else gold).")] = None,
    scheme: InSchemeOpt = None,
    strict: StrictOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    errors: Annotated[Optional[Path], typer.Option(help="Write false positives and negatives (TSV) here.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Score predictions against gold: strict entity-level precision, recall and F1, micro and per type.

    The two inputs are read as they come: in the same document order they are scored in flat memory.
    """
    from distant.api import evaluate as run
    from distant.evaluate import format_table

    if gold == pred == Path("-"):
        raise DistantError("gold and predictions cannot both come from standard input")
    with progress_bar("scoring") as advance:
        result = run(gold, pred, gold_format=_fmt(gold_format), pred_format=_fmt(pred_format),
                     gold_layer=gold_layer, pred_layer=pred_layer, scheme=scheme, strict=strict, errors=errors,
                     progress=advance)
    typer.echo(json.dumps(result.as_dict(), indent=2) if as_json else format_table(result))


# -- labeling -----------------------------------------------------------------------------------------------
def _labelers(dicts, unknown, stopwords, patterns, config, abbreviations, unmatched):
    from distant.api import Labelers

    built = Labelers.from_args(dicts or [], unknown or [], stopwords, patterns or [], config,
                               abbreviations=abbreviations, unmatched=unmatched.value)
    return built.labelers, built.aggregator


DictOpt = Annotated[Optional[list[Path]], typer.Option("--dict", help="Typed dictionary Type<TAB>surface[<TAB>kb_id] (repeatable).")]
UnknownOpt = Annotated[Optional[list[Path]], typer.Option("--unknown", help="Untyped phrase list: matches get no label, not O (repeatable).")]
StopOpt = Annotated[Optional[Path], typer.Option("--stopwords", help="Single-token matches to skip.")]
PatternOpt = Annotated[Optional[list[Path]], typer.Option("--patterns", help="Regex table (TSV: label, name, ignore_case, regex) (repeatable).")]
LabelConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="Labelers and aggregation in TOML, instead of the flags.")]
AbbrOpt = Annotated[bool, typer.Option("--abbreviations/--no-abbreviations", help="Label short forms defined in the text.")]
UnmatchedOpt = Annotated[Unmatched, typer.Option("--unmatched", help="Tokens no labeler covers: O or unknown.")]


@app.command()
@command
def label(
    inputs: InputsArg,
    output: Annotated[str, typer.Option("-o", "--output", help=OutputHelp + ".")],
    dicts: DictOpt = None, unknown: UnknownOpt = None, stopwords: StopOpt = None, patterns: PatternOpt = None,
    config: LabelConfigOpt = None, abbreviations: AbbrOpt = True, unmatched: UnmatchedOpt = Unmatched.O,
    src_format: FromOpt = None,
    dst_format: ToOpt = None,
    from_scheme: FromSchemeOpt = None,
    to_scheme: ToSchemeOpt = "IOB2",
    workers: Annotated[int, typer.Option(min=1, help="Processes to label with (the local engine).")] = 1,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    actors: ActorsOpt = 2,
    resume: ResumeOpt = False,
    strict: StrictOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Mark raw text with pseudo-labels from dictionaries and patterns (the 'pseudo' layer), streamed."""
    from distant.engines import label_corpus
    from distant.jobs import Reading, Writing, expand_inputs
    from distant.labelers.pipeline import summary_table

    options = _ray(engine, address, actors)
    reading = Reading(_fmt(src_format), "gold", from_scheme, strict)
    sources = expand_inputs(inputs, reading.fmt)
    labelers, aggregator = _labelers(dicts, unknown, stopwords, patterns, config, abbreviations, unmatched)
    with progress_bar("labeling") as advance:
        result, stats = label_corpus(sources, output, labelers, aggregator, reading=reading,
                                     writing=Writing(_fmt(dst_format), "pseudo", to_scheme), workers=workers,
                                     engine=engine.value, ray=options, resume=resume, progress=advance)
    _report(result, "labeled")
    if stats is not None:
        _stderr_console().print(summary_table(stats), highlight=False)


class Method(str, Enum):
    hmm = "hmm"
    dawid_skene = "dawid-skene"
    vote = "vote"
    priority = "priority"


@app.command()
@command
def aggregate(
    inputs: Annotated[list[Path], typer.Argument(help="Labeled files: WRENCH/CHMM splits (--from wrench, meta.json "
                                                 "beside), or distant label's JSONL output.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder: one <stem>.jsonl per input.")],
    method: Annotated[Method, typer.Option("--method", help="hmm, dawid-skene (label models fitted on all the "
                                           "inputs' text), vote or priority.")] = Method.hmm,
    sources: Annotated[Optional[str], typer.Option("--sources", help="Layers to combine, comma-separated "
                                                   "(default: every layer but gold, pred and pseudo; "
                                                   "name pred to add a tagger's predictions).")] = None,
    iterations: Annotated[Optional[int], typer.Option(min=1, help="Label models: most EM iterations (default: 2; "
                                                      "32 with --select-on).")] = None,
    prior_weight: Annotated[float, typer.Option(min=0.0, help="Label models: pseudo-counts per firing for the "
                                                "tag a labeler claims.")] = 0.5,
    posterior_threshold: Annotated[Optional[float], typer.Option(help="Label models: tokens with more than one "
                                                                 "tag at this posterior or above are written "
                                                                 "as '-' (partial labels).")] = None,
    apply_to: Annotated[Optional[list[Path]], typer.Option("--apply-to", help="More files, labeled by the fitted "
                                                          "model but not fitted on (new text, a held-out "
                                                          "test set); repeat for several.")] = None,
    save_model: Annotated[Optional[Path], typer.Option("--save-model", help="Label models: save the fitted "
                                                       "model here (JSON), for --model later.")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="A label model saved with --save-model: it "
                                                  "labels the inputs, nothing is fitted.")] = None,
    select_on: Annotated[Optional[Path], typer.Option("--select-on", help="Gold documents (e.g. valid.json) on "
                                                      "which the label model's EM iterations are chosen: 1, 2, "
                                                      "4, ... up to --iterations, the best strict F1 against "
                                                      "their gold; nothing else reads gold.")] = None,
    src_format: FromOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Combine labelers' layers into a 'pseudo' layer (label model fitted without gold), one output per input."""
    from distant.config.labelers import AggregateConfig
    from distant.labelers.aggregate import SELECT_ITERATIONS, aggregate_files

    try:
        most = iterations or (SELECT_ITERATIONS[-1] if select_on is not None else AggregateConfig.iterations)
        options = AggregateConfig(method=method.value, iterations=most, prior_weight=prior_weight,
                                  posterior_threshold=posterior_threshold)
    except ValueError as e:
        raise DistantError(str(e)) from None
    if save_model is not None and (model is not None or method in (Method.vote, Method.priority)):
        why = "--model fits nothing" if model is not None else f"the {method.value} method fits no model"
        raise DistantError(f"--save-model: {why}; expected --method hmm or dawid-skene, without --model")
    with progress_bar("aggregating"):
        summary = aggregate_files(inputs, output, fmt=_fmt(src_format), sources=sources, options=options,
                                  apply_to=apply_to or (), model=model, save_model=save_model,
                                  select_on=select_on)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    elif "model" in summary:
        typer.echo(f"{summary['method']} model {summary['model']}: labeled "
                   f"{sum(summary['documents'].values()):,} documents, nothing fitted")
    elif "fit" in summary:
        if "selection" in summary:
            chosen = summary["selection"]
            tried = ", ".join(f"{k}: {f:.4f}" for k, f in chosen["f1_by_iterations"].items())
            typer.echo(f"EM iterations chosen on {chosen['file']}: {chosen['iterations']} (F1 by iterations: {tried})")
        fit = summary["fit"]
        fitted = sum(n for stem, n in summary["documents"].items() if stem not in summary["not_fitted"])
        typer.echo(f"{method.value}: fitted on {fitted:,} documents, {fit['tokens']:,} tokens, "
                   f"{fit['iterations']} EM iterations, {fit['seconds']:.1f} s "
                   f"({fit['documents_per_second']:,.0f} documents/s"
                   f"{', the whole selection' if 'selection' in summary else ''})")


@labelers_app.command("report")
@command
def labelers_report(
    gold: Annotated[Path, typer.Argument(help="Gold documents (PubTator, JSONL, CoNLL, ...).")],
    dicts: DictOpt = None, unknown: UnknownOpt = None, stopwords: StopOpt = None, patterns: PatternOpt = None,
    config: LabelConfigOpt = None, abbreviations: AbbrOpt = True, unmatched: UnmatchedOpt = Unmatched.O,
    src_format: FromOpt = None,
    scheme: InSchemeOpt = None,
    strict: StrictOpt = False,
    method: Annotated[Optional[Method], typer.Option("--method", help="Without labelers: aggregate the "
                                                     "documents' own layers (WRENCH functions) by this method; "
                                                     "a label model's learned accuracies are shown.")] = None,
    sources: Annotated[Optional[str], typer.Option("--sources", help="With --method: the layers to combine, "
                                                   "comma-separated (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Label the gold documents' text and report coverage, overlaps, conflicts and P/R/F1 per labeler.

    With a label model (aggregate.method = "hmm" or "dawid-skene", or --method), the token accuracies it
    learned without gold are shown next to the ones measured against gold.
    """
    from distant.labelers.pipeline import label_documents
    from distant.labelers.report import format_report, labelers_report as run

    docs = _read(gold, src_format, layer="gold", scheme=scheme, strict=strict)
    if method is not None and not (dicts or unknown or patterns or config):
        # the documents' own layers (a WRENCH file's labelling functions) are the labelers
        from distant.config.labelers import AggregateConfig
        from distant.docs import GOLD, PRED, PSEUDO
        from distant.labelers.aggregate import build_aggregator, parse_sources

        layers = list(dict.fromkeys(n for d in docs for n in d.layers if n not in (GOLD, PRED, PSEUDO)))
        layers = parse_sources(sources, layers) if sources else layers
        labelers, aggregator = [], build_aggregator(AggregateConfig(method=method.value), layers)
        names = layers
    else:
        labelers, aggregator = _labelers(dicts, unknown, stopwords, patterns, config, abbreviations, unmatched)
        names = [lab.name for lab in labelers]
    with progress_bar("labeling", total=len(docs)) as advance:
        label_documents(docs, labelers, aggregator, progress=advance)
    learned = aggregator.model.accuracies() if getattr(aggregator, "needs_fit", False) else None
    report = run(docs, names, learned=learned)
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@debias_app.command("report")
@command
def debias_report(
    run_dir: Annotated[Path, typer.Argument(help="A training run folder (its debias.json).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show the pseudo-label vs estimated target tag distributions and the corrections a run applied."""
    from distant.debias.report import format_report, load_report

    report = load_report(run_dir)
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else format_report(report))


@app.command()
@command
def report(
    source: Annotated[Path, typer.Argument(help="A training run folder, or a labeled file (distant label output).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write (self-contained).")],
    gold: Annotated[Optional[Path], typer.Option(help="Gold documents for a labeled file (default: its gold "
                                                 "layer).")] = None,
    src_format: FromOpt = None,
    sample: Annotated[int, typer.Option(min=0, help="Documents drawn for the displaCy views.")] = 6,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    device: DeviceOpt = "cpu",
    verbose: VerboseOpt = False,
) -> None:
    """Write one HTML page: documents in displaCy, labelers, distributions, learning curves, scores, errors."""
    from distant.report import labeled_report, run_report, write_report

    if source.is_dir():
        if gold is not None:
            raise DistantError("--gold is for a labeled file; a run folder's gold is its config's data.test", gold)
        page = run_report(source, sample=sample, seed=seed, device=device)
    else:
        page = labeled_report(source, gold, sample=sample, seed=seed, fmt=_fmt(src_format))
    typer.echo(str(write_report(page, output)))


# -- training and prediction --------------------------------------------------------------------------------
def _progress_printer(console):
    """Return a callback that prints training events, with a progress bar when stderr is a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)
    state = {"task": None, "epoch": None}

    def callback(event: dict) -> None:
        kind = event.get("event")
        if kind == "stage":
            console.print(event["message"], style="bold", markup=False, highlight=False)
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
                          f"{event['seconds']:.0f}s", markup=False, highlight=False)
        elif kind == "lm_step" and event["step"] % 50 == 0:
            console.print(f"  char LM epoch {event['epoch']} step {event['step']}  loss {event['loss']:.3f}  "
                          f"{event['chars_per_s']:,.0f} chars/s", markup=False, highlight=False)
        elif kind == "done" and state["task"] is not None:
            bar.stop()

    return callback


@app.command()
@command
def train(
    config: Annotated[Path, typer.Argument(help="Run config (TOML), e.g. configs/bc5cdr.toml.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Run folder to write (or to resume).")],
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: train.epochs=3.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run in the output folder.")] = False,
    device: Annotated[Optional[str], typer.Option(callback=_device, help="auto, cpu, cuda or cuda:N "
                                                  "(default: the config's).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes for labeling.")] = 1,
    verbose: VerboseOpt = False,
) -> None:
    """Pseudo-label the configured text, train the tagger, and evaluate it on the configured gold test set."""
    from distant.train import load_config, run_training

    run_config = config
    if resume and (output / "config.toml").is_file() and not config.is_file():
        run_config = output / "config.toml"
    cfg = load_config(run_config, overrides or [])
    callback = _progress_printer(_stderr_console())
    try:
        report = run_training(cfg, output, config_path=run_config, resume=resume, device=device, workers=workers,
                              progress=callback)
    finally:
        callback({"event": "done"})
    test = report.get("test")
    summary = {"run": str(output), "best_epoch": report["train"]["best_epoch"], "dev": report["dev"].get("scores")}
    if test:
        summary["test"] = {k: round(v, 4) for k, v in test["micro"].items() if k in ("precision", "recall", "f1")}
        if "tagger" in test:  # [combine]: "test" is the combination's score, this the tagger's alone
            summary["test_tagger"] = {k: round(v, 4) for k, v in test["tagger"].items()
                                      if k in ("precision", "recall", "f1")}
    if "combine" in report:
        summary["combine"] = {k: report["combine"][k] for k in ("kept", "dev_f1_tagger", "dev_f1_combined",
                                                                   "dev_checked", "dev_tagger_better")
                              if k in report["combine"]}
    typer.echo(json.dumps(summary))


@app.command()
@command
def predict(
    model: Annotated[Path, typer.Argument(help="A run folder (its model.pt) or a checkpoint file.")],
    inputs: InputsArg,
    output: Annotated[str, typer.Option("-o", "--output", help=OutputHelp + ".")],
    src_format: FromOpt = None,
    dst_format: ToOpt = None,
    from_scheme: FromSchemeOpt = None,
    to_scheme: ToSchemeOpt = "IOB2",
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Sentences per batch (default: the model's "
                                                      "predict.batch_size).")] = None,
    device: DeviceOpt = "auto",
    threads: Annotated[int, typer.Option(min=0, help="0: one torch thread and parallel branches; N: N torch "
                                         "threads.")] = 0,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    actors: ActorsOpt = 2,
    gpus_per_actor: Annotated[float, typer.Option("--gpus-per-actor", min=0.0, help="With --engine ray and --device "
                                                  "cuda: GPUs each actor asks for (0.5: two share one).")] = 0.0,
    resume: ResumeOpt = False,
    strict: StrictOpt = False,
    tagger_only: Annotated[bool, typer.Option("--tagger-only", help="A run trained with [combine]: the tagger's "
                                              "spans alone, without its labelers and label model.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Tag documents with a trained model: spans with character offsets and confidences, streamed.

    A run trained with [combine] also runs its labelers (the dictionaries of its config.toml) and lets its label
    model decide over the tagger's spans."""
    from distant.device import resolve_device
    from distant.engines import predict_corpus
    from distant.jobs import Reading, Writing, expand_inputs

    if engine is Engine.local or not device.startswith("cuda"):
        resolve_device(device)  # a device this machine lacks is an error before any work
    if engine is Engine.ray and device.startswith("cuda") and not gpus_per_actor:
        gpus_per_actor = 1.0
    options = _ray(engine, address, actors, gpus_per_actor)
    reading = Reading(_fmt(src_format), "gold", from_scheme, strict)
    sources = expand_inputs(inputs, reading.fmt)
    with progress_bar("tagging") as advance:
        result, stats = predict_corpus(sources, output, model, reading=reading,
                                       writing=Writing(_fmt(dst_format), "pred", to_scheme), device=device,
                                       threads=threads, batch_size=batch_size, engine=engine.value, ray=options,
                                       resume=resume, progress=advance, combine=not tagger_only)
    _report(result, "tagged")
    if stats:
        log.info("%d sentences (%.0f sentences/s), %d spans", stats["sentences"], stats["sentences_per_s"],
                 stats["spans"])
        if stats.get("below_min_score"):
            log.info("%d spans less confident than the model's predict.min_score left out",
                     stats["below_min_score"])
        if "combined_spans" in stats:
            log.info("%d spans after the run's label model combined the tagger's with its labelers' "
                     "(--tagger-only: the tagger's alone)", stats["combined_spans"])


@app.command("pretrain-lm")
@command
def pretrain_lm(
    config: Annotated[Path, typer.Argument(help="Run config (TOML): its [model.charlm], [pretrain] and [data] text.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for charlm.pt (give it to pretrain.charlm).")],
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key.")] = None,
    text: Annotated[Optional[list[Path]], typer.Option(help="Raw text to pre-train on (default: data.train + data.extra_text).")] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Passes over the text (default: pretrain.epochs or 1).")] = None,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Pre-train the character language model on unlabeled text, once, for reuse by training runs."""
    from distant.corpus import chunk_words, chunks, read_corpus
    from distant.device import setup
    from distant.pretrain import CHARLM_FILE, pretrain_lm as run
    from distant.train import load_config

    cfg = load_config(config, overrides or [])
    settings = dataclasses.replace(cfg.pretrain, epochs=epochs or cfg.pretrain.epochs or 1)
    dev, _ = setup(device, cfg.train.threads)
    docs = read_corpus(text or [*cfg.data.train, *cfg.data.extra_text])
    sentences = chunk_words(docs, chunks(docs, cfg.data.max_tokens))
    run(sentences, cfg.model.charlm, settings, output / CHARLM_FILE, dev, _progress_printer(_stderr_console()),
        seed=cfg.train.seed)
    typer.echo(str(output / CHARLM_FILE))


def main(argv: list[str] | None = None) -> None:
    """Run the app: usage errors and bad input print one line on stderr and exit with code 2."""
    try:
        code = app(args=argv, prog_name="distant", standalone_mode=False)
    except NoArgsIsHelpError as e:
        typer.echo(e.ctx.get_help())
        code = 2
    except UsageError as e:
        where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        typer.echo(f"distant: error: {' '.join(e.format_message().split())}{where}", err=True)
        code = 2
    except typer.Abort:
        typer.echo("distant: interrupted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
