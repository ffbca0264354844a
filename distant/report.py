"""One self-contained HTML page about a training run or a labeled file, to look at in a browser.

``distant report RUN_DIR -o report.html`` reads a run folder (``config.toml``, ``pseudo.jsonl``,
``debias.json``, ``metrics.jsonl``, ``report.json``, ``model.pt``); ``distant report pseudo.jsonl --gold
gold.pubtator -o report.html`` a labeled file and its gold. The page holds:

- displaCy views of a seeded sample of documents, the gold, pseudo and predicted layers one under the other;
- the labelers' coverage, overlaps and conflicts (:func:`distant.labelers.report.labelers_report`);
- the pseudo-label, estimated-target and predicted tag distributions (:mod:`distant.debias.report`);
- learning curves from ``metrics.jsonl``;
- per-type precision, recall and F1 and the error categories with examples (:func:`distant.evaluate.evaluate`).

Charts are Vega-Lite specs made with Vega-Altair and drawn in the page by Vega-Embed, whose JavaScript
(Vega, Vega-Lite, Vega-Embed and their dependencies) ``vl-convert-python`` bundles offline and the page
inlines: it needs no network when it is viewed, and the charts stay interactive (tooltips). matplotlib would
need no JavaScript, but its inline images have no tooltips and a browser test could only see a picture.
"""

from __future__ import annotations

import html
import json
import logging
import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from distant.atomic import write_text
from distant.docs import GOLD, PRED, PSEUDO, UNKNOWN, Document, O, is_typed
from distant.errors import DistantError

log = logging.getLogger(__name__)

LAYER_TITLES = {GOLD: "gold", PSEUDO: "pseudo-labels", PRED: "predicted"}
PALETTE = ["#7aecec", "#feca74", "#aa9cfc", "#ff9561", "#bfe1d9", "#e4e7d2", "#c887fb", "#9cc9cc", "#ffeb80"]
UNKNOWN_COLOR = "#dddddd"
EXAMPLES = 5  # error examples per category


# -- gathering ----------------------------------------------------------------------------------------------------
def run_report(run_dir: str | Path, *, sample: int = 6, seed: int = 0, device: str = "cpu") -> str:
    """Return the HTML report of a training run folder.

    The gold test documents of the run's config are labeled with the run's labelers (coverage, conflicts) and
    tagged with its model (the predicted layer, the scores and the error examples); the distributions come
    from ``debias.json`` and the learning curves from ``metrics.jsonl``.

    Raises:
        DistantError: not a run folder (no ``config.toml`` or ``model.pt``), or unreadable parts.
    """
    from distant.debias.report import load_report
    from distant.evaluate import evaluate
    from distant.formats import read_documents
    from distant.labelers.pipeline import build_pipeline, label_documents
    from distant.predict import load_model, predict_documents
    from distant.tokenize import default_tokenizer
    from distant.train import load_config

    run_dir = Path(run_dir)
    config_path = run_dir / "config.toml"
    if not config_path.is_file() or not (run_dir / "model.pt").is_file():
        raise DistantError("found no config.toml and model.pt, expected a training run folder (distant train -o)",
                           run_dir)
    config = load_config(config_path)
    if config.data.test is None:
        raise DistantError("the run's config has no data.test, expected gold test documents to report on",
                           config_path)
    tokenizer = default_tokenizer()
    gold = [tokenizer(doc) for doc in read_documents(config.data.test)]
    labelers, aggregator = build_pipeline(config.labelers, config.aggregate, path=config_path,
                                          types=config.data.types or None)
    docs = [doc.copy() for doc in gold]
    label_documents(docs, labelers, aggregator)
    model = load_model(run_dir, device)
    predict_documents(model, docs, device=device, max_tokens=config.data.max_tokens)
    result = evaluate(gold, docs, gold_name=str(config.data.test))
    debias = load_report(run_dir) if (run_dir / "debias.json").is_file() else None
    distributions = _distributions(docs, debias.tags if debias else _tags(docs), debias)
    return render(f"distant report: {run_dir.name}", source=str(run_dir), docs=docs,
                  labeler_layers=[lab.name for lab in labelers], evaluation=result,
                  distributions=distributions, curves=_metrics(run_dir / "metrics.jsonl"),
                  summary=_run_summary(run_dir), sample=sample, seed=seed)


def labeled_report(labeled: str | Path, gold: str | Path | None = None, *, sample: int = 6, seed: int = 0,
                   fmt: str | None = None, gold_format: str | None = None) -> str:
    """Return the HTML report of a labeled file (``distant label`` output) scored against its gold.

    Without ``gold`` the file's own ``gold`` layer is the gold. The labeler layers are the file's layers other
    than gold, pseudo and pred.

    Raises:
        DistantError: unreadable inputs, documents that do not pair up, or no gold at all.
    """
    from distant.evaluate import evaluate, pair_documents
    from distant.formats import read_documents
    from distant.tokenize import default_tokenizer

    tokenizer = default_tokenizer()
    docs = read_documents(labeled, fmt, layer=PSEUDO)
    if gold is not None:
        paired = []
        for g, d in pair_documents(read_documents(gold, gold_format), docs, str(gold), str(labeled)):
            d.layers[GOLD] = list(g.spans(GOLD))
            paired.append(d)
        docs = paired
    elif not any(GOLD in d.layers for d in docs):
        raise DistantError("found no gold layer, expected --gold with the gold documents", labeled)
    docs = [d if d.is_tokenized else tokenizer(d) for d in docs]
    layer = PRED if any(PRED in d.layers for d in docs) else PSEUDO
    result = evaluate(docs, docs, pred_layer=layer, gold_name=str(gold or labeled), pred_name=str(labeled))
    labeler_layers = sorted({name for d in docs for name in d.layers} - {GOLD, PSEUDO, PRED})
    return render(f"distant report: {Path(labeled).name}", source=str(labeled), docs=docs,
                  labeler_layers=labeler_layers, evaluation=result,
                  distributions=_distributions(docs, _tags(docs), None), curves=[], summary={}, sample=sample,
                  seed=seed, scored_layer=layer)


def _tags(docs: Sequence[Document]) -> list[str]:
    types = sorted({s.label for d in docs for layer in (GOLD, PSEUDO, PRED) for s in d.spans(layer)
                    if is_typed(s.label)})
    return [O, *(f"{p}-{t}" for t in types for p in "BI")]


def _distributions(docs: Sequence[Document], tags: Sequence[str], debias: Any) -> list[dict[str, Any]]:
    """Rows ``{tag, source, share}``: the pseudo-labels, the target estimate, predicted and gold."""
    from distant.debias.estimate import gold_distribution

    rows = []
    if debias is not None:
        rows += [{"tag": t, "source": "pseudo-labels (training text)", "share": p}
                 for t, p in zip(debias.pseudo.tags, debias.pseudo.probs)]
        target = debias.target_estimate() or (debias.estimates[-1] if debias.estimates else None)
        if target is not None:
            rows += [{"tag": t, "source": f"estimated target ({target.source})", "share": p}
                     for t, p in zip(target.distribution.tags, target.distribution.probs)]
    for layer, name in ((PSEUDO, "pseudo-labels (these documents)"), (PRED, "predicted"), (GOLD, "gold")):
        if debias is not None and layer == PSEUDO or not any(d.spans(layer) for d in docs):
            continue
        with _quiet("distant.debias.estimate"):
            dist, _ = gold_distribution(docs, tags, layer=layer)
        rows += [{"tag": t, "source": name, "share": p} for t, p in zip(dist.tags, dist.probs)]
    return rows


class _quiet:
    """Silence one logger's warnings (the distributions' alignment notes belong to training, not here)."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def __enter__(self) -> None:
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def _metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as e:
            raise DistantError(f"found invalid JSON ({e.msg}), expected one epoch per line", path, number) from None
        if isinstance(event, dict) and "epoch" in event and "loss" in event:
            dev = event.get("dev") or {}
            rows.append({"epoch": event["epoch"], "round": event.get("round", 0), "loss": event["loss"],
                         "dev F1": dev.get("f1"), "dev precision": dev.get("precision"),
                         "dev recall": dev.get("recall")})
    return rows


def _run_summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "report.json"
    if not path.is_file():
        return {}
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DistantError("found an unreadable report.json, expected the one distant train writes", path) from None
    train = report.get("train", {})
    test = (report.get("test") or {}).get("micro", {})
    return {"device": report.get("device"), "epochs": train.get("epochs"), "best epoch": train.get("best_epoch"),
            "best dev F1": train.get("best_dev_f1"), "test precision": test.get("precision"),
            "test recall": test.get("recall"), "test F1": test.get("f1"),
            **({"test F1, tagger alone": report["test"]["tagger"].get("f1")} if "tagger" in (report.get("test") or {})
               else {}),
            **({"label model over labelers + tagger": "kept" if report["combine"].get("kept") else "not kept (dev)"}
               if isinstance(report.get("combine"), dict) else {}),
            "seconds": sum(v for v in (report.get("seconds") or {}).values() if isinstance(v, (int, float)))}


# -- drawing ------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Return Vega, Vega-Lite and Vega-Embed as one script (vl-convert bundles them offline)."""
    import vl_convert

    return vl_convert.javascript_bundle()


def _charts(distributions, curves, evaluation) -> list[tuple[str, str, dict]]:
    """``(id, title, Vega-Lite spec)`` of each chart."""
    import altair as alt

    charts = []
    if distributions:
        data = alt.Data(values=distributions)
        chart = alt.Chart(data).mark_bar().encode(
            x=alt.X("tag:N", title="tag", sort=None, axis=alt.Axis(labelAngle=0)), xOffset=alt.XOffset("source:N"),
            y=alt.Y("share:Q", title="share of tokens", scale=alt.Scale(type="sqrt")),
            color=alt.Color("source:N", legend=alt.Legend(orient="bottom", columns=2)),
            tooltip=["tag:N", "source:N", alt.Tooltip("share:Q", format=".4f")]).properties(width=560, height=260)
        charts.append(("chart-distributions", "Tag distributions (square-root scale)", chart.to_dict()))
    if curves:
        data = alt.Data(values=curves)
        base = alt.Chart(data).encode(x=alt.X("epoch:Q", title="epoch"))
        loss = base.mark_line(point=True, color="#4c78a8").encode(
            y=alt.Y("loss:Q", title="training loss"), tooltip=["epoch:Q", "round:Q", "loss:Q"]
        ).properties(width=270, height=200, title="training loss")
        dev = alt.Chart(alt.Data(values=[{"epoch": r["epoch"], "score": r[k], "metric": k} for r in curves
                                         for k in ("dev F1", "dev precision", "dev recall") if r[k] is not None])
                        ).mark_line(point=True).encode(
            x=alt.X("epoch:Q"), y=alt.Y("score:Q", title="dev score", scale=alt.Scale(domain=[0, 1])),
            color="metric:N", tooltip=["epoch:Q", "metric:N", alt.Tooltip("score:Q", format=".4f")]
        ).properties(width=270, height=200, title="dev scores")
        charts.append(("chart-curves", "Learning curves (metrics.jsonl)", alt.hconcat(loss, dev).to_dict()))
    rows = [{"type": t, "metric": m, "score": getattr(s, m)} for t, s in sorted(evaluation.per_type.items())
            for m in ("precision", "recall", "f1")]
    if rows:
        chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(
            x=alt.X("type:N", title=None, axis=alt.Axis(labelAngle=0)), xOffset="metric:N",
            y=alt.Y("score:Q", scale=alt.Scale(domain=[0, 1])),
            color="metric:N", tooltip=["type:N", "metric:N", alt.Tooltip("score:Q", format=".4f")]
        ).properties(width=360, height=220)
        charts.append(("chart-scores", "Strict scores per type", chart.to_dict()))
    categories = [{"category": c, "errors": evaluation.categories.get(c, 0)}
                  for c in ("boundary", "type", "missed", "spurious")]
    chart = alt.Chart(alt.Data(values=categories)).mark_bar(color="#e45756").encode(
        x=alt.X("errors:Q"), y=alt.Y("category:N", sort=None, title=None), tooltip=["category:N", "errors:Q"]
    ).properties(width=360, height=140)
    charts.append(("chart-errors", "Error categories", chart.to_dict()))
    return charts


def _colors(docs: Sequence[Document]) -> dict[str, str]:
    labels = sorted({_shown(s.label) for d in docs for layer in (GOLD, PSEUDO, PRED) for s in d.spans(layer)
                     if s.label != O})
    colors = {label: PALETTE[k % len(PALETTE)] for k, label in enumerate(lb for lb in labels if lb != "unknown")}
    colors["unknown"] = UNKNOWN_COLOR
    return colors


def _shown(label: str) -> str:
    return "unknown" if label == UNKNOWN else label


def _displacy(doc: Document, layer: str, colors: dict[str, str]) -> str:
    """One layer of one document drawn by displaCy (overlapping spans cannot be drawn: counted under it)."""
    from spacy import displacy

    ents, end, hidden = [], 0, 0
    for span in doc.spans(layer):
        if span.label == O:
            continue
        if span.start < end:
            hidden += 1
            continue
        label = _shown(span.label) + (f" {span.score:.2f}" if span.score is not None and layer == PRED else "")
        ents.append({"start": span.start, "end": span.end, "label": label})
        colors.setdefault(label, colors.get(_shown(span.label), UNKNOWN_COLOR))
        end = span.end
    drawn = displacy.render({"text": doc.text, "ents": ents, "title": None}, style="ent", manual=True, page=False,
                            jupyter=False, options={"colors": colors})
    note = f'<p class="note">{hidden} overlapping spans not drawn</p>' if hidden else ""
    return f'<div class="layer"><div class="layer-name">{LAYER_TITLES.get(layer, layer)}</div>{drawn}{note}</div>'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _context(text: str) -> str:
    """An error's context with the span marked: ``[[span]]`` becomes ``<b>span</b>``."""
    escaped = html.escape(text)
    return escaped.replace("[[", "<b>", 1).replace("]]", "</b>", 1)


def render(title: str, *, source: str, docs: Sequence[Document], labeler_layers: Sequence[str], evaluation: Any,
           distributions: list[dict[str, Any]], curves: list[dict[str, Any]], summary: dict[str, Any],
           sample: int = 6, seed: int = 0, scored_layer: str = PRED) -> str:
    """Return the whole page: every section, every chart's spec and the Vega bundle inline."""
    from distant.labelers.report import labelers_report

    parts = [f"<h1>{html.escape(title)}</h1><p class='source'>{html.escape(source)}: {len(docs)} documents</p>"]
    if summary:
        parts.append("<h2>Run</h2>" + _table(list(summary), [list(summary.values())]))
    chosen = sorted(random.Random(seed).sample(range(len(docs)), min(sample, len(docs))))
    colors = _colors(docs)
    views = []
    for k in chosen:
        doc = docs[k]
        layers = "".join(_displacy(doc, layer, colors) for layer in (GOLD, PSEUDO, PRED) if layer in doc.layers)
        views.append(f'<div class="doc"><h3>{html.escape(doc.id)}</h3>{layers}</div>')
    parts.append(f"<h2>Documents ({len(chosen)} of {len(docs)}, seed {seed})</h2>" + "".join(views))
    report = labelers_report(docs, list(labeler_layers))
    rows = [[layer, sum(info["spans"].values()), info["token_coverage"], info["gold_coverage"],
             info["scores"]["precision"], info["scores"]["recall"], info["scores"]["f1"]]
            for layer, info in report["layers"].items()]
    parts.append("<h2>Labelers</h2>" + _table(["layer", "spans", "token coverage", "gold coverage", "P", "R", "F1"],
                                              rows))
    names = [n for n in labeler_layers if n in report["overlaps"]]
    if len(names) > 1:
        pairs = [[a, b, report["overlaps"][a][b], report["conflicts"][a][b]] for a in names for b in names if a != b]
        parts.append("<h3>Overlaps and conflicts</h3>"
                     + _table(["spans of", "overlapping", "overlaps", "conflicts (other type)"], pairs))
    charts = _charts(distributions, curves, evaluation)
    chart_ids = {cid for cid, _, _ in charts}
    for cid, heading, _ in charts:
        if cid == "chart-distributions":
            parts.append(f"<h2>{heading}</h2><div class='chart' id='{cid}'></div>")
        if cid == "chart-curves":
            parts.append(f"<h2>{heading}</h2><div class='chart' id='{cid}'></div>")
    micro = evaluation.micro
    scores = [[t, s.precision, s.recall, s.f1, s.support] for t, s in sorted(evaluation.per_type.items())]
    scores.append(["all (micro)", micro.precision, micro.recall, micro.f1, micro.support])
    parts.append(f"<h2>Evaluation ({LAYER_TITLES.get(scored_layer, scored_layer)} against gold, strict)</h2>"
                 + _table(["type", "P", "R", "F1", "support"], scores)
                 + "".join(f"<h3>{h}</h3><div class='chart' id='{c}'></div>" for c, h, _ in charts
                           if c in ("chart-scores", "chart-errors")))
    by_category: dict[str, list] = {}
    for e in evaluation.errors:
        by_category.setdefault(e.category, []).append(e)
    for category in ("boundary", "type", "missed", "spurious"):
        cases = by_category.get(category, [])
        if not cases:
            continue
        rows = [[e.doc_id, e.kind, e.span.label, e.other.label if e.other else "", _context(e.context)]
                for e in cases[:EXAMPLES]]
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row[:4])
                       + f"<td class='ctx'>{row[4]}</td></tr>" for row in rows)
        parts.append(f"<h3>{category} ({len(cases)})</h3><table><thead><tr><th>document</th><th>kind</th>"
                     f"<th>label</th><th>other side</th><th>context</th></tr></thead><tbody>{body}</tbody></table>")
    specs = json.dumps({cid: spec for cid, _, spec in charts if cid in chart_ids}).replace("</", "<\\/")
    script = ("const specs = " + specs + ";\nfor (const [id, spec] of Object.entries(specs)) {\n"
              "  vegaEmbed('#' + id, spec, {actions: false, renderer: 'svg'})"
              ".catch(e => console.error('chart ' + id + ': ' + e));\n}")
    bundle = vega_bundle().replace("</script", "<\\/script")
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}"
            f"<script>{bundle}</script><script>{script}</script></body></html>\n")


STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
.source { color: #666; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.doc { border: 1px solid #e3e3e3; border-radius: 6px; padding: .5em 1em; margin: 1em 0; }
.doc h3 { margin: .2em 0; font-size: 1em; color: #555; }
.layer { border-top: 1px dashed #e3e3e3; padding: .3em 0; }
.layer-name { font-size: .75em; text-transform: uppercase; color: #888; letter-spacing: .05em; }
.layer .entities { line-height: 2.3 !important; margin: 0; }
.note { color: #a60; font-size: .8em; margin: 0; }
.ctx b { background: #ffe08a; }
.chart { margin: .5em 0 1.5em; min-height: 60px; }
"""


def write_report(page: str, output: str | Path) -> Path:
    """Write the page atomically; return its path."""
    output = Path(output)
    write_text(output, page)
    return output
