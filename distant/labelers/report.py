"""How good is each labeler? Coverage, overlaps, conflicts and strict scores against gold.

For each labeler layer and the aggregated ``pseudo`` layer: spans by kind (entity, multi-type ``A|B``,
``O``, ``-``), tokens covered, gold mentions covered, and strict precision/recall/F1 (start, end and type
equal) of its single-type entity spans against the gold layer; ``O``, ``-`` and ``A|B`` spans are counted
but not scored. Between each pair of labelers: how many spans overlap the other's, and how many of those
conflict (different types, or an entity against an ``O``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from distant.docs import GOLD, O, PSEUDO, UNKNOWN, Document, label_types


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "tp": tp, "fp": fp, "fn": fn}


def _token_labels(doc: Document, layer: str) -> dict[int, str]:
    """Map each token a span of ``layer`` covers to that span's label (first span wins)."""
    out: dict[int, str] = {}
    for i, j, span in doc.align(doc.spans(layer))[0]:  # labelers write aligned spans only
        for k in range(i, j):
            out.setdefault(k, span.label)
    return out


def _conflict(a: str, b: str) -> bool:
    if a == UNKNOWN or b == UNKNOWN:
        return False
    ta, tb = set(label_types(a)), set(label_types(b))
    if not ta or not tb:
        return bool(ta) != bool(tb)  # an entity against an O
    return not ta & tb


def token_accuracies(docs: Sequence[Document], layers: Sequence[str], gold_layer: str = GOLD
                     ) -> dict[str, dict[str, float]]:
    """Return each layer's token-level precision and recall against gold, as a label model counts them.

    ``precision``: of the tokens where the layer has an entity tag (``B-`` or ``I-`` of its span label), the
    share whose gold tag has that prefix and one of the label's types; ``recall``: of the gold entity tokens,
    the share where the layer has such a tag; ``fires``: the layer's entity tokens.
    """
    out = {}
    gold_tags = []
    for doc in docs:
        tags: dict[int, tuple[str, str]] = {}
        for i, j, span in doc.align(s for s in doc.spans(gold_layer) if label_types(s.label))[0]:
            for k in range(i, j):
                tags.setdefault(k, ("B" if k == i else "I", span.label))
        gold_tags.append(tags)
    truth = sum(len(t) for t in gold_tags)
    for layer in layers:
        fired = agree = 0
        for doc, gold in zip(docs, gold_tags):
            taken: set[int] = set()
            for i, j, span in doc.align(doc.spans(layer))[0]:
                types = set(label_types(span.label))
                if not types or taken.intersection(range(i, j)):
                    continue
                taken.update(range(i, j))
                for k in range(i, j):
                    fired += 1
                    g = gold.get(k)
                    agree += g is not None and g[0] == ("B" if k == i else "I") and g[1] in types
        out[layer] = {"precision": agree / fired if fired else 0.0, "recall": agree / truth if truth else 0.0,
                      "fires": float(fired)}
    return out


def labelers_report(docs: Sequence[Document], layers: Sequence[str], gold_layer: str = GOLD,
                    learned: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """Return coverage, span counts, overlaps, conflicts and strict scores of ``layers`` (and ``pseudo``).

    Args:
        docs: Labeled, tokenized documents that also hold gold spans.
        layers: Labeler layers to describe (``pseudo`` is added when the documents have it).
        gold_layer: The gold layer.
        learned: What a label model learned of each layer (token precision and recall, without gold), shown
            beside the same measured against gold (``accuracies``).
    """
    layers = list(layers)
    if PSEUDO not in layers and any(PSEUDO in d.layers for d in docs):
        layers.append(PSEUDO)
    n_tokens = sum(len(d.tokens or ()) for d in docs)
    gold_spans = [doc.align(s for s in doc.spans(gold_layer) if label_types(s.label)) for doc in docs]
    gold_total = sum(len(aligned) + len(unaligned) for aligned, unaligned in gold_spans)
    out: dict[str, Any] = {"documents": len(docs), "tokens": n_tokens, "gold_mentions": gold_total,
                           "gold_unaligned": sum(len(unaligned) for _, unaligned in gold_spans),
                           "layers": {}, "overlaps": {}, "conflicts": {}}
    token_maps = {layer: [_token_labels(d, layer) for d in docs] for layer in layers}
    for layer in layers:
        kinds: Counter = Counter()
        per_type: dict[str, list[int]] = {}
        tp = fp = fn = 0
        covered_tokens = covered_gold = 0
        for doc, labels, (gold_aligned, _) in zip(docs, token_maps[layer], gold_spans):
            gold = {s.key() for s in doc.spans(gold_layer) if label_types(s.label)}
            pred = set()
            for span in doc.spans(layer):
                kind = ("O" if span.label == O else "unknown" if span.label == UNKNOWN
                        else "multi-type" if "|" in span.label else "entity")
                kinds[kind] += 1
                if kind == "entity":
                    pred.add(span.key())
            covered_tokens += sum(1 for lab in labels.values() if lab != O)
            # a gold mention off our token boundaries cannot be covered (counted in gold_unaligned)
            covered_gold += sum(all(labels.get(k, O) != O for k in range(i, j)) for i, j, _ in gold_aligned)
            for key in gold | pred:
                counts = per_type.setdefault(key[2], [0, 0, 0])
                if key in gold and key in pred:
                    counts[0] += 1
                    tp += 1
                elif key in pred:
                    counts[1] += 1
                    fp += 1
                else:
                    counts[2] += 1
                    fn += 1
        out["layers"][layer] = {
            "spans": dict(kinds),
            "tokens_covered": covered_tokens,
            "token_coverage": covered_tokens / n_tokens if n_tokens else 0.0,
            "gold_covered": covered_gold,
            "gold_coverage": covered_gold / gold_total if gold_total else 0.0,
            "scores": _prf(tp, fp, fn),
            "per_type": {t: _prf(*c) for t, c in sorted(per_type.items())},
        }
    labeler_layers = [layer for layer in layers if layer != PSEUDO]
    out["overlaps"], out["conflicts"] = _overlaps(docs, labeler_layers, token_maps)
    if learned is not None:
        measured = token_accuracies(docs, [name for name in labeler_layers if name in learned], gold_layer)
        out["accuracies"] = {name: {"learned": learned[name], "measured": measured[name]} for name in measured}
    return out


def _overlaps(docs: Sequence[Document], layers: Sequence[str], token_maps: dict[str, list[dict[int, str]]]
              ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Return, for each pair of layers, how many spans of the first overlap the second, and how many conflict."""
    overlaps: dict[str, dict[str, int]] = {}
    conflicts: dict[str, dict[str, int]] = {}
    for a in layers:
        overlaps[a], conflicts[a] = {}, {}
        for b in layers:
            if a == b:
                continue
            n_overlaps = n_conflicts = 0
            for doc, map_b in zip(docs, token_maps[b]):
                for i, j, span in doc.align(doc.spans(a))[0]:
                    other = [map_b[k] for k in range(i, j) if k in map_b]
                    if other:
                        n_overlaps += 1
                        n_conflicts += any(_conflict(span.label, lab) for lab in other)
            overlaps[a][b], conflicts[a][b] = n_overlaps, n_conflicts
    return overlaps, conflicts


def format_report(report: dict[str, Any]) -> str:
    """Return a labelers report as plain-text tables."""
    unaligned = report.get("gold_unaligned", 0)
    lines = [f"{report['documents']:,} documents, {report['tokens']:,} tokens, {report['gold_mentions']:,} gold mentions"
             + (f" ({unaligned:,} not on token boundaries: never covered)" if unaligned else ""),
             "",
             f"{'layer':<16}{'entity':>8}{'A|B':>6}{'O':>7}{'-':>7}{'tok cov':>9}{'gold cov':>9}"
             f"{'P':>8}{'R':>8}{'F1':>8}"]
    for name, row in report["layers"].items():
        k, sc = row["spans"], row["scores"]
        lines.append(f"{name:<16}{k.get('entity', 0):>8,}{k.get('multi-type', 0):>6,}{k.get('O', 0):>7,}"
                     f"{k.get('unknown', 0):>7,}{row['token_coverage']:>9.3f}{row['gold_coverage']:>9.3f}"
                     f"{sc['precision']:>8.3f}{sc['recall']:>8.3f}{sc['f1']:>8.3f}")
    lines += ["", f"{'layer':<16}{'type':<14}{'P':>8}{'R':>8}{'F1':>8}{'tp':>7}{'fp':>7}{'fn':>7}"]
    for name, row in report["layers"].items():
        for t, sc in row["per_type"].items():
            lines.append(f"{name:<16}{t:<14}{sc['precision']:>8.3f}{sc['recall']:>8.3f}{sc['f1']:>8.3f}"
                         f"{sc['tp']:>7,}{sc['fp']:>7,}{sc['fn']:>7,}")
    if report.get("accuracies"):
        lines += ["", "token accuracies: learned by the label model (no gold) and measured against gold",
                  f"{'layer':<28}{'learned P':>10}{'gold P':>8}{'learned R':>10}{'gold R':>8}{'tokens':>9}"]
        for name, row in report["accuracies"].items():
            a, m = row["learned"], row["measured"]
            lines.append(f"{name[:27]:<28}{a['precision']:>10.3f}{m['precision']:>8.3f}{a['recall']:>10.3f}"
                         f"{m['recall']:>8.3f}{int(m['fires']):>9,}")
    if report["overlaps"]:
        lines += ["", "overlapping spans (conflicting), row layer's spans against column layer"]
        names = list(report["overlaps"])
        lines.append(f"{'':<16}" + "".join(f"{n[:15]:>16}" for n in names))
        for a in names:
            cells = ["-" if a == b else f"{report['overlaps'][a][b]:,} ({report['conflicts'][a][b]:,})" for b in names]
            lines.append(f"{a:<16}" + "".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)
