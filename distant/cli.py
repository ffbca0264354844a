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


def main() -> None:
    """Run the app (usage errors exit with code 2; bad input with one line on stderr and code 2)."""
    app()
