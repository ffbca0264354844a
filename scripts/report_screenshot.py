"""Write the HTML report of a run and a screenshot of it in headless Chromium (docs/report.png).

    python scripts/report_screenshot.py                    # trains configs/sample.toml first (about a minute)
    python scripts/report_screenshot.py RUN_DIR [-o docs/report.png] [--html docs/report.html]

Without a run folder, the shipped sample is trained into a temporary folder. The page is drawn with its
scripts running (the charts are Vega views) in a window as wide as a laptop's and tall enough for the
whole page at two sampled documents.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, help="a training run folder (default: train the sample)")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--html", type=Path, help="also keep the HTML page here")
    parser.add_argument("--sample", type=int, default=2, help="documents in the displaCy views")
    parser.add_argument("--size", default="1200,3900", help="window width,height in pixels")
    args = parser.parse_args()
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                    None)
    if chromium is None:
        print("no chromium binary: apt-get install chromium", file=sys.stderr)
        return 2
    distant = [sys.executable, "-m", "distant"]
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir
        if run_dir is None:
            run_dir = Path(tmp) / "sample"
            subprocess.run([*distant, "train", str(ROOT / "configs" / "sample.toml"), "-o", str(run_dir)], check=True,
                           stdout=subprocess.DEVNULL)
        page = args.html or Path(tmp) / "report.html"
        subprocess.run([*distant, "report", str(run_dir), "-o", str(page), "--sample", str(args.sample)], check=True,
                       stdout=subprocess.DEVNULL)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={args.size}",
                        "--virtual-time-budget=15000", f"--screenshot={args.output.resolve()}",
                        page.resolve().as_uri()], check=True, capture_output=True)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
