"""What the shift correction measured and did in a run: saved as ``RUN_DIR/debias.json``, printed as a table.

``distant debias report RUN_DIR`` loads it with :func:`load_report` and prints :func:`format_report`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distant.atomic import write_text
from distant.debias.estimate import TagDistribution
from distant.docs import O
from distant.errors import DistantError

REPORT_FILE = "debias.json"
FORMAT_VERSION = 1


@dataclass
class Estimate:
    """One estimate of the target tag distribution.

    Attributes:
        method: ``gold``, ``prior`` or ``em``.
        source: Where it came from, for people: ``gold-dev (50 docs)``, ``prior (config)``, ``em (14 rounds)``.
        distribution: The estimate.
        details: Counts and settings behind it (unaligned spans, EM rounds, ...).
    """

    method: str
    source: str
    distribution: TagDistribution
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "source": self.source, "distribution": self.distribution.to_dict(),
                "details": self.details}

    @classmethod
    def from_dict(cls, data: dict[str, Any], tags: list[str]) -> Estimate:
        return cls(str(data["method"]), str(data["source"]),
                   TagDistribution.from_dict(data["distribution"], tags), dict(data.get("details") or {}))


@dataclass
class DebiasReport:
    """The pseudo-label distribution, the target estimates and the corrections a run applied.

    Attributes:
        pseudo: Tag distribution of the pseudo-labels (unknown tokens left out).
        pseudo_counts: Token counts from :func:`~distant.debias.estimate.pseudo_distribution` (unknown ones too).
        estimates: Target estimates, in the order they were made.
        target: ``method`` of the estimate the corrections used, or ``None``.
        bias_mode: ``none``, ``set`` or ``fix``.
        tau: Strength of the BA-Set correction.
        bias: Per-tag bias added to the emissions at inference (BA-Set or BA-Fix), without the O-bias.
        training_bias: Per-tag bias added during training (BA-Fix).
        weights: Per-tag importance weights of the token loss.
        o_bias: Bias on the O emission tuned on dev, and the ``(bias, dev F1)`` table it was chosen from.
        threshold: Marginal threshold tuned on dev, and its ``(threshold, dev F1)`` table.
        crossweigh: CrossWeigh summary (:func:`~distant.debias.crossweigh.summarize_weights`).
    """

    pseudo: TagDistribution
    pseudo_counts: dict[str, Any] = field(default_factory=dict)
    estimates: list[Estimate] = field(default_factory=list)
    target: str | None = None
    bias_mode: str = "none"
    tau: float | None = None
    bias: list[float] | None = None
    training_bias: list[float] | None = None
    weights: list[float] | None = None
    o_bias: float | None = None
    o_bias_table: list[tuple[float, float]] | None = None
    threshold: float | None = None
    threshold_table: list[tuple[float, float]] | None = None
    crossweigh: dict[str, Any] | None = None

    @property
    def tags(self) -> list[str]:
        return list(self.pseudo.tags)

    def target_estimate(self) -> Estimate | None:
        """Return the estimate the corrections used (the last one of that method), or ``None``."""
        chosen = [e for e in self.estimates if e.method == self.target]
        return chosen[-1] if chosen else None

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-able data (floats, lists and tables only)."""
        return {
            "format": FORMAT_VERSION,
            "tags": self.tags,
            "pseudo": self.pseudo.to_dict(),
            "pseudo_counts": self.pseudo_counts,
            "estimates": [e.to_dict() for e in self.estimates],
            "target": self.target,
            "bias_mode": self.bias_mode,
            "tau": self.tau,
            "bias": _floats(self.bias),
            "training_bias": _floats(self.training_bias),
            "weights": _floats(self.weights),
            "o_bias": self.o_bias,
            "o_bias_table": _table(self.o_bias_table),
            "threshold": self.threshold,
            "threshold_table": _table(self.threshold_table),
            "crossweigh": self.crossweigh,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DebiasReport:
        """Rebuild a report from :meth:`to_dict` output; raises ``ValueError``/``KeyError``/``TypeError``."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"format version {data.get('format')!r}, expected {FORMAT_VERSION}")
        tags = [str(t) for t in data["tags"]]
        k = len(tags)

        def vector(name: str) -> list[float] | None:
            v = data.get(name)
            if v is None:
                return None
            if not isinstance(v, list) or len(v) != k:
                raise ValueError(f"{name!r} must be a list of {k} numbers")
            return [float(x) for x in v]

        def table(name: str) -> list[tuple[float, float]] | None:
            v = data.get(name)
            return None if v is None else [(float(a), float(b)) for a, b in v]

        def number(name: str) -> float | None:
            v = data.get(name)
            return None if v is None else float(v)

        return cls(
            pseudo=TagDistribution.from_dict(data["pseudo"], tags),
            pseudo_counts=dict(data.get("pseudo_counts") or {}),
            estimates=[Estimate.from_dict(e, tags) for e in data.get("estimates") or []],
            target=data.get("target"),
            bias_mode=str(data.get("bias_mode", "none")),
            tau=number("tau"),
            bias=vector("bias"),
            training_bias=vector("training_bias"),
            weights=vector("weights"),
            o_bias=number("o_bias"),
            o_bias_table=table("o_bias_table"),
            threshold=number("threshold"),
            threshold_table=table("threshold_table"),
            crossweigh=data.get("crossweigh"),
        )


def _floats(values: Any) -> list[float] | None:
    if values is None:
        return None
    if hasattr(values, "tolist"):  # a tensor or an array
        values = values.tolist()
    return [float(v) for v in values]


def _table(rows: list[tuple[float, float]] | None) -> list[list[float]] | None:
    return None if rows is None else [[float(a), float(b)] for a, b in rows]


def save_report(report: DebiasReport, run_dir: str | Path) -> Path:
    """Write ``report`` to ``run_dir/debias.json`` atomically and return the path."""
    path = Path(run_dir) / REPORT_FILE
    write_text(path, json.dumps(report.to_dict(), indent=2) + "\n")
    return path


def load_report(run_dir: str | Path) -> DebiasReport:
    """Read ``run_dir/debias.json`` (or the file itself when given a file).

    Raises:
        DistantError: the file is missing, is not JSON, or is not a debias report (one line naming the path).
    """
    run_dir = Path(run_dir)
    path = run_dir if run_dir.is_file() else run_dir / REPORT_FILE
    if not path.is_file():
        raise DistantError("no debias report here; was the run trained with a [debias] section?", path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DistantError(f"malformed debias report: {_one_line(e)}", path) from None
    try:
        return DebiasReport.from_dict(data)
    except (KeyError, ValueError, TypeError) as e:
        what = f"missing field {e}" if isinstance(e, KeyError) else _one_line(e)
        raise DistantError(f"malformed debias report: {what}", path) from None


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


# -- text table ---------------------------------------------------------------------------------------------

def _fmt(value: float | None, spec: str) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def format_report(report: DebiasReport) -> str:
    """Return the report as text: a summary, then one row per tag (and one for all entity tags).

    Columns: the pseudo-label probability, each target estimate, the log-ratio of the used target to the
    pseudo-labels, the inference bias and the importance weight.
    """
    tags = report.tags
    used = report.target_estimate()
    lines: list[str] = []
    c = report.pseudo_counts
    if c:
        tokens = c.get("tokens", 0)
        lines.append(f"pseudo-labels: {tokens} tokens, {c.get('known', 0)} known, {c.get('ambiguous', 0)} "
                     f"ambiguous, {c.get('unknown', 0)} unknown ({100 * c.get('unknown_fraction', 0.0):.1f}%, "
                     f"left out of the distribution)")
    for e in report.estimates:
        mark = " (used)" if e is used else ""
        lines.append(f"target estimate {e.method}: {e.source}{mark}")
    if not report.estimates:
        lines.append("target estimate: none")
    mode = {"none": "none", "set": "BA-Set", "fix": "BA-Fix"}.get(report.bias_mode, report.bias_mode)
    tau = f", tau {report.tau:g}" if report.tau is not None and report.bias_mode == "set" else ""
    lines.append(f"bias adjustment: {mode}{tau}")
    lines.append("")

    headers = ["tag", "pseudo"] + [e.method for e in report.estimates] + ["log-ratio", "bias", "weight"]
    rows: list[list[str]] = []
    log_ratio = None
    if used is not None:
        log_ratio = (used.distribution.log() - report.pseudo.log()).tolist()
    for i, tag in enumerate(tags):
        rows.append([tag, _fmt(report.pseudo.probs[i], ".4f")]
                    + [_fmt(e.distribution.probs[i], ".4f") for e in report.estimates]
                    + [_fmt(log_ratio[i] if log_ratio else None, "+.3f"),
                       _fmt(report.bias[i] if report.bias else None, "+.3f"),
                       _fmt(report.weights[i] if report.weights else None, ".3f")])
    if O in tags:
        rows.append(["(entity)", _fmt(report.pseudo.entity_mass(), ".4f")]
                    + [_fmt(e.distribution.entity_mass(), ".4f") for e in report.estimates] + ["", "", ""])
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(headers)]
    lines.append("  ".join(h.ljust(w) if j == 0 else h.rjust(w) for j, (h, w) in enumerate(zip(headers, widths))))
    for r in rows:
        lines.append("  ".join(v.ljust(w) if j == 0 else v.rjust(w)
                               for j, (v, w) in enumerate(zip(r, widths))).rstrip())
    lines.append("")

    if report.o_bias is not None:
        lines.append(f"O-bias tuned on dev: {report.o_bias:+g}" + _table_text(report.o_bias_table, "bias", "+g"))
    if report.threshold is not None:
        lines.append(f"entity threshold tuned on dev: {report.threshold:g}"
                     + _table_text(report.threshold_table, "threshold", "g"))
    if report.crossweigh:
        cw = report.crossweigh
        flagged = ", ".join(f"{k}x: {n}" for k, n in (cw.get("flagged") or {}).items())
        lines.append(f"crossweigh: {cw.get('sentences', '?')} sentences, {cw.get('iterations', '?')} iterations, "
                     f"epsilon {cw.get('epsilon', '?')}; sentences by times flagged: {flagged}; "
                     f"mean weight {_fmt(cw.get('mean_weight'), '.3f')}")
    return "\n".join(lines).rstrip("\n") + "\n"


def _table_text(table: list[tuple[float, float]] | None, name: str, spec: str) -> str:
    if not table:
        return ""
    return f" (dev F1 by {name}: " + ", ".join(f"{a:{spec}}: {b:.4f}" for a, b in table) + ")"
