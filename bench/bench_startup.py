"""Start-up time of the `tracker` command: how long a person waits for `tracker --help` or `tracker check`.

Runs each command N times as a fresh process (as hyperfine does) and prints the median and the fastest,
next to the same interpreter doing nothing (`python -c pass`) and importing every command module at once
(what every start-up paid before commands were imported lazily). Then lists the slowest imports of
`tracker check` from `python -X importtime`. Figures only; never a timed test.

    python -m bench.bench_startup            # 15 runs each
    python -m bench.bench_startup --runs 40
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from config.settings import SAMPLE_CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
EVERYTHING = ("from tracker.cli.main import COMMAND_MODULES, command_module\n"
              "for name in COMMAND_MODULES:\n    command_module(name)")


def timed(argv: list[str], runs: int) -> tuple[float, float]:
    """(median, fastest) wall time in seconds of `argv` as a fresh process, after one warm-up run."""
    subprocess.run(argv, cwd=REPO, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=REPO, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def slowest_imports(argv: list[str], count: int) -> list[tuple[int, str]]:
    """The `count` top-level imports with the largest cumulative time (µs) under `-X importtime`."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=REPO, capture_output=True, text=True,
                          check=False)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if not name.startswith("  "):  # top level: what the command itself asked for
                rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    py = sys.executable
    sample = str(SAMPLE_CONFIG_DIR / "makha.toml")
    commands = {
        "python -c pass (the interpreter alone)": [py, "-c", "pass"],
        "tracker --help": [py, "-m", "tracker.cli.main", "--help"],
        "tracker check makha.toml": [py, "-m", "tracker.cli.main", "check", sample],
        "tracker status --help (imports its module)": [py, "-m", "tracker.cli.main", "status", "--help"],
        "import every command module (before: every start-up)": [py, "-c", EVERYTHING],
    }
    print(f"start-up, {args.runs} runs each (median / fastest):")
    results = {}
    for label, command in commands.items():
        median, fastest = timed(command, args.runs)
        results[label] = median
        print(f"  {label:<55} {median:6.3f} s / {fastest:6.3f} s")
    before = results["import every command module (before: every start-up)"]
    for label in ("tracker --help", "tracker check makha.toml"):
        print(f"  {label}: {results[label] / before:.2f}× the eager start-up")
    print("slowest imports of `tracker check` (cumulative ms):")
    for micros, name in slowest_imports(["-m", "tracker.cli.main", "check", sample], 8):
        print(f"  {micros / 1000:7.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
