"""The `grade` command: parse, call the library, print, return an exit code.

Heavy modules (torch, pandas, nbclient) are imported inside the commands, so that
`grade --help` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import GraderError

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
Grade a student's notebook (.ipynb) or module (.py) for one assignment of the course
"Deep neural networks and convolutional neural networks".

The student's code runs in a separate, sandboxed process; it gets the checks' inputs only.
Every verdict is decided in the grader, against the reference, the labels and thresholds
that never reach the student's process.
"""

EPILOG = """\
exit codes:
  0  every check that ran passed
  1  some check failed, raised, timed out, or nothing could be graded
  2  bad usage or input: missing file, not a notebook, unknown assignment

examples:
  grade mywork.ipynb                      grade, assignment told by the notebook
  grade mywork.py --assignment conv-arithmetic
  grade mywork.ipynb --format json        the result as JSON (the course's result format)
  grade mywork.ipynb --verbose            also how long each stage took
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grade", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="the notebook (.ipynb) or module (.py) to grade")
    parser.add_argument("-a", "--assignment", metavar="NAME",
                        help="the assignment (default: from the notebook's metadata or its function names)")
    parser.add_argument("-f", "--format", choices=("text", "json"), default="text",
                        help="text (default): a readable summary; json: the course's result format")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print the time each stage took")
    parser.add_argument("--no-hidden", action="store_true",
                        help="grade as a student would: public checks only, hidden ones listed as skipped")
    return parser


def grade_command(args: argparse.Namespace) -> int:
    from .grading import grade_file
    from .text_report import render

    report = grade_file(args.file, args.assignment, include_hidden=not args.no_hidden)
    if args.format == "json":
        print(report.dumps())
    else:
        print(render(report, verbose=args.verbose))
    return EXIT_PASSED if report.all_passed else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return grade_command(args)
    except GraderError as error:
        print(f"grade: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("grade: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `grade ... | head`)
        sys.stderr.close()
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
