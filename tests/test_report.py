"""The HTML report: built from a run folder and from a labeled file, then opened in headless Chromium.

The browser tests render the page with JavaScript running (``--dump-dom`` after a virtual time budget) and
read Chromium's console log: the charts must be drawn (an ``svg`` with marks inside every chart container),
the entities too (displaCy ``mark`` elements), and nothing may be logged to the console. They skip, saying
why, only when no Chromium binary is installed (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest
from typer.testing import CliRunner

from distant.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
QUICK = ["--set", "train.epochs=3", "--set", "pretrain.epochs=1", "--set", "model.charlm.hidden_size=32"]
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
CHARTS = ("chart-distributions", "chart-curves", "chart-scores", "chart-errors")


def ok(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def render(page: Path, tmp_path: Path) -> tuple[lxml.html.HtmlElement, list[str]]:
    """Open ``page`` in headless Chromium; return the DOM after the scripts ran and the console lines."""
    result = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr",
         "--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom",
         page.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return lxml.html.fromstring(result.stdout), console


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "sample"
    ok("train", ROOT / "configs" / "sample.toml", "-o", run_dir, *QUICK)
    return run_dir


@pytest.fixture(scope="module")
def run_page(trained, tmp_path_factory) -> Path:
    page = tmp_path_factory.mktemp("report") / "report.html"
    ok("report", trained, "-o", page, "--sample", "3")
    return page


def test_run_report_is_one_self_contained_page(run_page):
    text = run_page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing fetched when viewed
    for heading in ("Documents (3 of 8, seed 0)", "Labelers", "Overlaps and conflicts", "Tag distributions",
                    "Learning curves", "Evaluation (predicted against gold, strict)", "Error categories"):
        assert heading in text, heading
    assert text.count('<div class="doc">') == 3 and text.count('class="layer-name">gold<') == 3
    assert text.count('class="layer-name">predicted<') == 3 and text.count('class="layer-name">pseudo-labels<') == 3


def test_same_seed_same_page_other_seed_other_sample(trained, tmp_path):
    pages = []
    for seed in (0, 0, 5):
        ok("report", trained, "-o", tmp_path / f"r{len(pages)}.html", "--sample", "2", "--seed", seed)
        pages.append((tmp_path / f"r{len(pages)}.html").read_text(encoding="utf-8"))
    docs = [re.findall(r'<div class="doc"><h3>([^<]+)</h3>', p) for p in pages]
    assert docs[0] == docs[1] and docs[0] != docs[2]


def labeled_page(tmp_path: Path) -> Path:
    ok("label", SAMPLE / "gold.pubtator", "--dict", SAMPLE / "dict.tsv", "--unknown", SAMPLE / "unknown.txt",
       "-o", tmp_path / "pseudo.jsonl")
    ok("report", tmp_path / "pseudo.jsonl", "--gold", SAMPLE / "gold.pubtator", "-o", tmp_path / "labeled.html")
    return tmp_path / "labeled.html"


def test_labeled_file_report_scores_the_pseudo_labels(tmp_path):
    text = labeled_page(tmp_path).read_text(encoding="utf-8")
    assert "Evaluation (pseudo-labels against gold, strict)" in text and "Learning curves" not in text
    assert "<td>dictionary</td>" in text and "<td>abbreviation</td>" in text


def test_report_refuses_what_it_cannot_read(tmp_path):
    runner = CliRunner()
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["report", str(tmp_path / "empty"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "expected a training run folder" in result.output
    (tmp_path / "x.jsonl").write_text('{"id": "a", "text": "abc"}\n')
    result = runner.invoke(app, ["report", str(tmp_path / "x.jsonl"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "found no gold layer" in result.output
    assert result.output.count("\n") == 1 and not (tmp_path / "r.html").exists()


def drawn(dom: lxml.html.HtmlElement, chart_id: str) -> int:
    """The marks (paths, rects, symbols) Vega drew as SVG inside one chart container."""
    (container,) = dom.xpath(f"//div[@id='{chart_id}']")
    return len(container.xpath(".//svg//path | .//svg//rect | .//svg//line"))


@needs_chromium
def test_run_report_draws_charts_and_entities_in_chromium(run_page, tmp_path):
    dom, console = render(run_page, tmp_path)
    assert console == []  # no error, no warning, no log line of any kind
    for chart in CHARTS:
        assert drawn(dom, chart) > 5, chart
    marks = dom.xpath("//div[@class='doc']//mark")
    assert len(marks) >= 10 and all(m.xpath(".//span") for m in marks)  # displaCy's entity and its label
    labels = {m.xpath("string(.//span)").split()[0] for m in marks}
    assert {"Chemical", "Disease"} <= labels


@needs_chromium
def test_labeled_report_draws_in_chromium(tmp_path):
    dom, console = render(labeled_page(tmp_path), tmp_path)
    assert console == []
    for chart in ("chart-distributions", "chart-scores", "chart-errors"):
        assert drawn(dom, chart) > 5, chart
    assert not dom.xpath("//div[@id='chart-curves']")
    assert len(dom.xpath("//mark")) >= 10


@needs_chromium
def test_the_browser_check_sees_a_broken_page(tmp_path):
    """The checks above can fail: a chart that throws is logged, and its container stays empty."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><div id='chart-scores'></div><script>vegaEmbed('#chart-scores', {});</script>"
                    "</body></html>", encoding="utf-8")
    dom, console = render(page, tmp_path)
    assert any("vegaEmbed is not defined" in line for line in console)
    assert drawn(dom, "chart-scores") == 0
