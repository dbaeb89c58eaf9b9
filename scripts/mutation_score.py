"""Print the mutation score of the domain core from mutmut's results (``make mutation``).

A mutant counts as killed when a test failed or timed out on it. Mutants listed in
docs/mutation.md as equivalent (they cannot change what the code does) are left out of the
count; every other survivor, and every mutant no selected test reaches, counts against the score
and is listed. Exits 1 below ``--fail-under`` (default 90) or when docs/mutation.md lists a
mutant that is no longer a survivor (its line is out of date).
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("routing", "handoff", "access", "lifecycle")
# mutmut's exit codes: 1 and 3 a failing test, 0 no test failed, 5 and 33 no test reached it,
# 24, 36, 152, 255 and -24 a timeout (a mutant that loops for ever is caught too).
KILLED = {1, 3, 24, 36, 152, 255, -24}
SURVIVED = {0}
NO_TESTS = {5, 33}
EQUIVALENT_LINE = re.compile(r"^\|\s*`(referral\.[\w.ǁ]+__mutmut_\d+)`\s*\|")


def equivalents(doc: Path) -> set[str]:
    """The mutants docs/mutation.md lists as equivalent, one table row each."""
    return {
        m.group(1) for line in doc.read_text().splitlines() if (m := EQUIVALENT_LINE.match(line))
    }


def results(mutants: Path, module: str) -> dict[str, int | None]:
    meta = mutants / "referral" / f"{module}.py.meta"
    if not meta.exists():
        return {}
    return json.loads(meta.read_text())["exit_code_by_key"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fail-under", type=float, default=90.0)
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "mutation.md")
    args = parser.parse_args()

    listed = equivalents(args.doc)
    seen_equivalent: set[str] = set()
    every: set[str] = set()
    problems: list[str] = []
    total_killed = total_counted = 0
    print(f"{'module':<10} {'mutants':>7} {'killed':>6} {'equiv.':>6} {'left':>5} {'score':>7}")
    for module in MODULES:
        codes = results(args.mutants, module)
        every.update(codes)
        if not codes:
            problems.append(f"{module}: no results (run `make mutation`)")
            continue
        killed = equivalent = 0
        for name, code in sorted(codes.items()):
            if code in KILLED:
                killed += 1
                if name in listed:
                    problems.append(f"{name}: listed as equivalent but killed")
            elif name in listed and code in SURVIVED:
                equivalent += 1
                seen_equivalent.add(name)
            elif code in SURVIVED:
                problems.append(f"{name}: survived")
            elif code in NO_TESTS:
                problems.append(f"{name}: no selected test reaches it")
            else:
                problems.append(f"{name}: not checked (exit code {code})")
        counted = len(codes) - equivalent
        left = counted - killed
        score = 100.0 * killed / counted if counted else 100.0
        print(f"{module:<10} {len(codes):>7} {killed:>6} {equivalent:>6} {left:>5} {score:>6.1f}%")
        total_killed += killed
        total_counted += counted
    problems += [f"{name}: listed as equivalent, no such mutant" for name in listed - every]
    score = 100.0 * total_killed / total_counted if total_counted else 0.0
    print(
        f"{'all':<10} {'':>7} {total_killed:>6} {len(seen_equivalent):>6} "
        f"{total_counted - total_killed:>5} {score:>6.1f}%"
    )
    for problem in problems:
        print(f"  {problem}")
    stale = any("listed as equivalent" in problem for problem in problems)
    return 1 if score < args.fail_under or stale or not total_counted else 0


if __name__ == "__main__":
    sys.exit(main())
