"""The `grade` command: parse, call the library, print, return an exit code.

`grade FILE` grades one submission; `grade COMMAND ...` runs one of COMMANDS. Heavy modules
(torch, pandas, nbclient) are imported inside the commands, so `grade --help` answers at once.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from .errors import GraderError, KernelStartError, OutputError, UsageError, reason
from .textsafe import one_line, visible

if TYPE_CHECKING:
    from .files import OutputFolder
    from .model import GradeReport

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "json", "junit", "gradescope")
KEEP_WARM_SECONDS = 600.0  # --keep-warm alone: a kept template ends ten minutes after its last grading

DESCRIPTION = """\
Grade a student's notebook (.ipynb) or module (.py) for one assignment of the course
"Deep neural networks and convolutional neural networks".

The student's code runs in a separate, sandboxed process; it gets the checks' inputs only.
Every verdict is decided in the grader, against the reference, the labels and thresholds
that never reach the student's process.
"""

EXIT_CODES = """\
exit codes:
  0  every check that ran passed
  1  some check failed, raised, timed out, or nothing could be graded
  2  bad usage or input: missing file, not a notebook, unknown assignment
"""

EXAMPLES = """\
examples:
  grade mywork.ipynb                      grade; the assignment is told by the notebook
  grade mywork.py --assignment conv-arithmetic
  grade mywork.ipynb --format json        the result as JSON (the course's result format)
  grade mywork.ipynb --output-dir out     out/result.json, out/junit.xml, out/results.json (Gradescope)
  grade mywork.ipynb --verbose            also how long each stage took
  grade mywork.ipynb --report             also write mywork.html, the HTML report
  grade batch submissions/ -a conv-arithmetic   a whole class (grade batch --help)
"""


@dataclass(frozen=True)
class Command:
    """A subcommand: `grade NAME ...`."""

    name: str
    summary: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _add_sandbox_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sandbox", choices=("auto", "bwrap", "bwrap-fork", "subprocess", "none"), default="auto",
        help="where student code runs: bwrap (isolated), subprocess (resource limits only), "
             "none (a plain child process); auto: bwrap when it works here, else subprocess",
    )


def _count(least: int) -> Callable[[str], int]:
    """An argument type: a whole number of at least `least` (-j 0 would grade nothing, for ever)."""
    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"not a whole number of {least} or more: {text!r}")
        return value
    return count


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds above 0: {text!r}")
    return value


def _configure_grade(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the notebook (.ipynb) or module (.py) to grade")
    parser.add_argument("-a", "--assignment", metavar="NAME",
                        help="the assignment (default: from the notebook's metadata or its function names)")
    parser.add_argument("-f", "--format", choices=FORMATS, action="append", metavar="FORMAT",
                        help="text (default): a readable summary; json: the course's result format; "
                             "junit: JUnit XML for CI; gradescope: Gradescope's results.json. "
                             "Repeat it with --output-dir to write several")
    parser.add_argument("-o", "--output-dir", type=Path, metavar="DIR",
                        help="write the result into files in DIR (result.json, junit.xml, results.json "
                             "for gradescope; by default all three) and print the summary")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print the time each stage took")
    parser.add_argument("--no-hidden", action="store_true",
                        help="grade as a student would: public checks only, hidden ones listed as skipped")
    parser.add_argument("--report", nargs="?", type=Path, const=Path(), metavar="PATH",
                        help="also write the HTML report (default: FILE's name with .html, beside it)")
    parser.add_argument("-j", "--jobs", type=_count(1), metavar="N",
                        help="run up to N independent trainings (or other chains of checks) at once, each in "
                             "its own process within its own CPU limits (default: the cores there are)")
    parser.add_argument("--keep-warm", nargs="?", type=_seconds, const=KEEP_WARM_SECONDS, default=0.0,
                        metavar="SECONDS",
                        help="keep the sandbox's warm template (its imports done) running SECONDS after this grading "
                             f"(default {KEEP_WARM_SECONDS:g}), so that the next `grade` forks from it at once; "
                             "with the fork server only (root)")
    _add_sandbox_option(parser)


def _run_grade(args: argparse.Namespace) -> int:
    from .files import OutputFolder
    from .formats import render
    from .text_report import render as render_text
    from .text_report import terminal_width

    formats = args.format or []
    if len(formats) > 1 and not args.output_dir:
        raise UsageError("several --format need --output-dir (one file each)")
    with contextlib.ExitStack() as opened:  # the output folders, opened before the student's code runs
        outputs = opened.enter_context(OutputFolder.open(args.output_dir)) if args.output_dir else None
        html = _open_report_folder(args, opened)
        report = _grade_one(args)
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")  # the progress line goes
        written, report_page, refused = _write_files(report, args, outputs, html)
        for path in written:
            print(f"wrote {one_line(str(path))}", file=sys.stderr)
        machine = bool(formats) and formats[0] != "text" and outputs is None  # stdout holds JSON or XML only
        print(render(report, formats[0]) if machine else render_text(report, verbose=args.verbose,
                                                                      width=terminal_width()))
        if report_page is not None:
            print(f"HTML report written to {one_line(str(report_page))}", file=sys.stderr if machine else sys.stdout)
        if refused is not None:  # said once the result is shown
            raise refused
    return EXIT_PASSED if report.all_passed else EXIT_FAILED


def _write_files(report: GradeReport, args: argparse.Namespace, outputs: OutputFolder | None,
                 html: tuple[OutputFolder, str] | None) -> tuple[list[Path], Path | None, OutputError | None]:
    """Every file asked for, written before anything is printed (a reader of the output that goes away,
    `| head -1`, costs none of them): the --output-dir files, the HTML report, and the refusal that
    stopped the writing, if one did."""
    from .formats import FILE_NAMES, MACHINE_FORMATS, render

    written: list[Path] = []
    try:
        if outputs is not None:
            for fmt in args.format or MACHINE_FORMATS:
                written.append(outputs.write(FILE_NAMES[fmt], render(report, fmt)))
        page = _write_html_report(report, args, *html) if html is not None else None
    except OutputError as refused:
        return written, None, refused
    return written, page, None


def _open_report_folder(args: argparse.Namespace, opened: contextlib.ExitStack) -> tuple[OutputFolder, str] | None:
    """With --report: the report's folder, opened, and its file name."""
    if args.report is None:
        return None
    from .html_report import open_report_folder

    folder, name = open_report_folder(args.file, args.report)
    return opened.enter_context(folder), name


def _write_html_report(report: GradeReport, args: argparse.Namespace, folder: OutputFolder, name: str) -> Path:
    from .html_report import write_report

    return write_report(report, args.file, folder, name)


def _grade_one(args: argparse.Namespace) -> GradeReport:
    """In the sandbox; where none can start (Windows), the public checks in the student's own kernel."""
    if not _sandbox_possible():
        from .own_kernel import grade_in_own_kernel

        if args.sandbox in ("bwrap", "bwrap-fork", "subprocess"):
            raise UsageError(f"--sandbox {args.sandbox} needs a POSIX system (Linux, macOS); "
                             "here the public checks run in a kernel of your own")
        print("grade: no sandbox on this system: the notebook runs in a Jupyter kernel of your own, "
              "public checks only", file=sys.stderr)
        return grade_in_own_kernel(args.file, args.assignment)
    from .grading import grade_file, template_imports
    from .sandbox import get_sandbox

    sandbox = get_sandbox(args.sandbox, args.keep_warm, template_imports(args.file, args.assignment))
    if args.keep_warm and sandbox.name != "bwrap-fork":
        print(f"grade: --keep-warm: nothing to keep with the {sandbox.name} sandbox (the fork server needs root "
              "and control groups)", file=sys.stderr)
    return grade_file(args.file, args.assignment, sandbox=sandbox,
                      include_hidden=not args.no_hidden, progress=_progress_line(sys.stderr), jobs=args.jobs)


def _progress_line(stream: TextIO) -> Callable[[str], None]:
    """On a terminal, one line that says what the grading waits for (cleared when it is done);
    elsewhere (CI logs, pipes) nothing."""
    if not stream.isatty():
        return lambda text: None

    def say(text: str) -> None:
        stream.write(f"\r\033[K{visible(text)}…")
        stream.flush()
    return say


def _configure_list(parser: argparse.ArgumentParser) -> None:
    pass


def _run_list(args: argparse.Namespace) -> int:
    from .assignments import course_root, known_assignments

    root = course_root()
    if not known_assignments(root):
        raise UsageError(f"no assignments here: looked for {root / 'assignments'}/<name>/checks.py (run it in a "
                         "course or a release folder, or set COURSEGRADE_ROOT)")
    for name in known_assignments(root):
        hidden = "with hidden checks" if (root / "reference" / name).is_dir() else "public checks only"
        print(f"{name:<22} {hidden}")
    return EXIT_PASSED


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, default=Path("reports/demo"),
                        help="where the reports go (default: reports/demo)")
    parser.add_argument("-j", "--jobs", type=_count(1), metavar="N",
                        help="grade N submissions at once (default: cores)")
    parser.add_argument("-a", "--assignment", action="append", metavar="NAME",
                        help="only this assignment (repeatable; default: all)")
    _add_sandbox_option(parser)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.output, args.sandbox, args.jobs, args.assignment)


def _configure_batch(parser: argparse.ArgumentParser) -> None:
    from .batch import STUDENT_ID_RULE, default_jobs
    from .intake import LAYOUTS, PICKS

    parser.description = (
        "Grade an LMS export (a folder or a .zip as downloaded: one student's work per file or folder)\n"
        "in parallel worker processes, and write results/<student>.json (the course's result format),\n"
        "reports/<student>.html, details/<student>.json, gradebook.csv, summary.html and intake.json.\n"
        "Running it again grades only what is missing or changed (same files and assignment version\n"
        "are not graded twice): an interrupted batch is resumed, not redone.\n\n"
        + STUDENT_ID_RULE
    )
    parser.epilog = ("exit codes:\n  0  every submission has its results\n"
                     "  1  some submission could not be graded at all (see summary.html)\n"
                     "  2  bad usage or input: no such folder, no submissions, unknown assignment")
    parser.add_argument("folder", type=Path, metavar="DIR", help="the folder (or .zip) of submissions")
    parser.add_argument("-a", "--assignment", metavar="NAME", required=True, help="the assignment to grade")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT", help="where the reports go (default: reports/NAME)")
    parser.add_argument("-j", "--jobs", type=_count(1), metavar="N", default=default_jobs(),
                        help="grade N submissions at once (default: the number of CPU cores, here %(default)s)")
    parser.add_argument("--no-hidden", action="store_true", help="public checks only (hidden ones listed as skipped)")
    parser.add_argument("--roster", type=Path, metavar="CSV",
                        help="the class list as the LMS exports it (Canvas gradebook, Moodle participants): "
                             "ids and names from it; files matching no one are listed, not graded")
    parser.add_argument("--layout", choices=LAYOUTS, default="auto",
                        help="how the export names students' files (default: detected)")
    parser.add_argument("--pick", choices=PICKS, default="latest",
                        help="which of a student's several submissions counts (default: latest; "
                             "best grades them all)")
    parser.add_argument("--deadline", type=_deadline, metavar="WHEN",
                        help="ISO date and time (2026-12-01T23:59); with --pick latest-before-deadline, "
                             "files newer than it are late (Canvas: its late tag)")
    parser.add_argument("--db", metavar="URL",
                        help="the course database (a SQLAlchemy URL or a file; default: course.sqlite beside OUT, "
                             "i.e. reports/course.sqlite, or $COURSEGRADE_DB); course.toml's deadlines and the "
                             "overrides apply, and every grading is recorded")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="grade on the workers of a Dask cluster: its scheduler's address (tcp://HOST:PORT), "
                             "or local:N for N worker processes here; the outputs are written here as without it "
                             "(needs pip install 'coursegrade[distributed]')")
    _add_sandbox_option(parser)


def _deadline(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date and time: {text!r} (e.g. 2026-12-01T23:59)") from None


def _run_batch(args: argparse.Namespace) -> int:
    from .assignments import course_root, load_assignment, sandbox_settings
    from .batch import BatchConfig, run_batch, summary_line
    from .roster import read_roster
    from .sandbox import start_early

    if args.pick == "latest-before-deadline" and args.deadline is None and args.layout != "canvas":
        print("grade batch: no --deadline: only Canvas's late tags tell which files are late", file=sys.stderr)
    roster = read_roster(args.roster) if args.roster else None
    settings = sandbox_settings(course_root(), args.assignment)
    if settings is not None and args.scheduler is None:  # the workers' template imports while the checks load
        start_early(args.sandbox, settings[1])
    assignment = load_assignment(args.assignment, include_hidden=not args.no_hidden)
    from .course_db import database_url

    output = args.output or Path("reports") / assignment.name
    config = BatchConfig(args.folder, assignment, output, args.jobs, args.sandbox, layout=args.layout,
                         roster=roster, pick=args.pick, deadline=args.deadline,
                         db=database_url(args.db, output.parent / "course.sqlite"), scheduler=args.scheduler)
    outcome = run_batch(config)
    print(summary_line(outcome, config))
    return EXIT_FAILED if outcome.errors or outcome.unsaved else EXIT_PASSED


def _configure_release(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="NAME", help="the assignment to release")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                        help="a new (or empty) folder for the release")
    parser.add_argument("--grader-spec", metavar="SPEC",
                        help="the pip requirement the release's requirements.txt installs the grader from, e.g. "
                             "'coursegrade @ git+https://host/coursegrade@v0.1.0' (default: coursegrade==VERSION)")


def _run_release(args: argparse.Namespace) -> int:
    from .assignments import load_assignment
    from .release import build_release

    written = build_release(load_assignment(args.assignment), args.output, args.grader_spec)
    for path in written:
        print(path)
    print(f"released {args.assignment}: {len(written)} files in {args.output} (no reference material)")
    return EXIT_PASSED


def _configure_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="NAME", help="the assignment to validate")
    parser.add_argument("--samples", type=Path, metavar="DIR",
                        help="the sample submissions' folder (default: tests/submissions of the course)")
    parser.add_argument("--write-listing", action="store_true",
                        help="first rewrite assignments/NAME/hidden.json from the hidden checks")
    parser.add_argument("--mutants", action="store_true",
                        help="instead, grade every first-order mutant of the reference (grader/mutants.py): "
                             "each must lose marks on its own exercise; exit 1 below the assignment's "
                             "MUTATION_MINIMUM")
    parser.add_argument("--sample", type=_count(0), metavar="N",
                        help="with --mutants: grade a seeded sample of N mutants, 0 for all (default: the "
                             "assignment's MUTATION_SAMPLE; 25 where an exercise is `train`; else all)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="with --sample: the sample's seed (default 0)")
    parser.add_argument("-j", "--jobs", type=_count(1), metavar="N", help="grade N at once (default: cores)")
    _add_sandbox_option(parser)


def _run_validate(args: argparse.Namespace) -> int:
    import json

    from .assignments import course_root, hidden_listing, load_assignment
    from .files import write_atomic
    from .validate import validate

    assignment = load_assignment(args.assignment)
    if not assignment.has_reference:
        raise UsageError(f"validating {args.assignment} needs its reference folder (instructors only)")
    if args.write_listing:
        listing = json.dumps(hidden_listing(assignment.checks), indent=1) + "\n"
        write_atomic(assignment.folder / "hidden.json", listing)
        assignment = load_assignment(args.assignment)
    if args.mutants:
        return _run_mutants(assignment, args)
    if args.samples is not None and not args.samples.is_dir():
        raise UsageError(f"--samples {args.samples}: no such folder (it holds NAME/expected.json and the samples)")
    findings = validate(assignment, args.sandbox, args.samples or course_root() / "tests" / "submissions")
    for finding in findings:
        print(f"✗ {finding.subject}: {finding.problem}")
    if findings:
        print(f"{args.assignment}: {len(findings)} problem(s)")
        return EXIT_FAILED
    print(f"{args.assignment}: valid — the reference scores full marks, the template zero, "
          "and every sample submission meets its expected outcome")
    return EXIT_PASSED


def _run_mutants(assignment: Any, args: argparse.Namespace) -> int:
    from .mutation_report import render, run_mutants

    run = run_mutants(assignment, args.sandbox, args.jobs, args.sample, args.seed)
    print(render(run))
    return EXIT_FAILED if run.failed else EXIT_PASSED


# ---------------------------------------------------------------- the course database


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL",
                        help="the course database: a SQLAlchemy URL (postgresql://...) or a file "
                             "(default: $COURSEGRADE_DB, else reports/course.sqlite)")


def _engine(args: argparse.Namespace) -> Any:
    from .course_db import database_url, open_db

    return open_db(database_url(args.db), create=False)


def _configure_override(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Give a student points by hand for one check, or an exercise's total. The override is\n"
                          "applied on top of every later grading, shown in the student's report as an instructor's\n"
                          "adjustment with its reason (after the next grade batch), and kept in the history.")
    parser.add_argument("student", nargs="?", metavar="STUDENT", help="any identifier the roster holds: "
                        "login, SIS id, email, LMS id, or the id of the student's files")
    parser.add_argument("assignment", nargs="?", metavar="ASSIGNMENT")
    parser.add_argument("target", nargs="?", metavar="CHECK|EXERCISE", help="a check id or an exercise name")
    parser.add_argument("points", nargs="?", type=float, metavar="POINTS",
                        help="the check's points, or the exercise's total")
    parser.add_argument("--reason", metavar="TEXT", help="why (the student sees it)")
    parser.add_argument("--from-csv", type=Path, metavar="CSV",
                        help="many at once: columns student, assignment, target, points, reason")
    parser.add_argument("--list", action="store_true", help="list every override")
    _add_db_option(parser)


OVERRIDE_COLUMNS = ("student", "assignment", "target", "points", "reason")


def _override_requests(args: argparse.Namespace) -> list[Any]:
    from .course_book import OverrideRequest

    if args.from_csv:
        return _overrides_from_csv(args.from_csv)
    if args.points is None:
        raise UsageError("grade override STUDENT ASSIGNMENT CHECK|EXERCISE POINTS --reason TEXT "
                         "(or --from-csv CSV, or --list)")
    return [OverrideRequest(args.student, args.assignment, args.target, args.points, args.reason or "")]


def _overrides_from_csv(path: Path) -> list[Any]:
    """Every row of an overrides CSV, each a request that names its line; a UsageError for a file
    that cannot be read, has not the columns, or holds no override."""
    import csv

    from .course_book import OverrideRequest

    columns = ", ".join(OVERRIDE_COLUMNS)
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            header, rows = reader.fieldnames or [], [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"cannot read overrides from {path}: {reason(error)} (a UTF-8 CSV with columns {columns})") \
            from None
    absent = [c for c in OVERRIDE_COLUMNS[:4] if c not in header]
    if absent:
        raise UsageError(f"{path} has no column {', '.join(absent)} (its first line must be the header: {columns})")
    if not rows:
        raise UsageError(f"{path} holds no override, only its header")
    return [OverrideRequest(row["student"] or "", row["assignment"] or "", row["target"] or "",
                            _points(row["points"], f"{path} line {line}"), row.get("reason") or "",
                            f"{path} line {line}") for line, row in rows]


def _points(text: str | None, where: str) -> float:
    try:
        return float(text or "")
    except ValueError:
        raise UsageError(f"{where}: points {text!r} is not a number") from None


def _run_override(args: argparse.Namespace) -> int:
    import getpass

    from .course_book import add_overrides, list_overrides

    if args.list:
        listed = list_overrides(_engine(args))
        for line in listed:
            print(visible(line))
        print(f"{len(listed)} override{'s' * (len(listed) != 1)}")
        return EXIT_PASSED
    requests = _override_requests(args)  # all read before the database is opened
    for line in add_overrides(_engine(args), requests, getpass.getuser()):
        print(visible(line))
    print("the students' reports show it after the next grade batch of the assignment")
    return EXIT_PASSED


def _configure_changes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    _add_db_option(parser)


def _run_changes(args: argparse.Namespace) -> int:
    from .course_book import changes

    moved = changes(_engine(args), args.assignment)
    for change in moved:
        old = "–" if change.old is None else f"{change.old:g}"
        new = "–" if change.new is None else f"{change.new:g}"
        checks = f"  {change.checks}" if change.checks else ""
        print(visible(f"{change.student} ({change.name}): {old} → {new}{checks}"))
    print(f"{len(moved)} student{'s' * (len(moved) != 1)} moved in the latest regrade of {args.assignment}")
    return EXIT_PASSED


def _configure_export(parser: argparse.ArgumentParser) -> None:
    from .lms_export import FORMATS

    parser.add_argument("--format", choices=FORMATS, required=True,
                        help="canvas: gradebook import CSV; moodle: one assignment's grading worksheet; "
                             "csv: one row per student, a column per assignment, totals")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    parser.add_argument("-a", "--assignment", action="append", metavar="NAME",
                        help="only this assignment (repeatable; default: all)")
    _add_db_option(parser)


def _run_export(args: argparse.Namespace) -> int:
    from .course_book import course_table
    from .files import write_atomic
    from .lms_export import render_export

    assignments, students = course_table(_engine(args), args.assignment or ())
    write_atomic(args.output, render_export(args.format, assignments, students))
    print(f"wrote {one_line(str(args.output))}: {len(students)} students, "
          f"{', '.join(a.name for a in assignments)}")
    return EXIT_PASSED


def _configure_history(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("student", metavar="STUDENT", help="any identifier the roster holds")
    _add_db_option(parser)


def _run_history(args: argparse.Namespace) -> int:
    from .course_book import history

    for line in history(_engine(args), args.student):
        print(visible(line))
    return EXIT_PASSED


COMMANDS: dict[str, Command] = {
    "batch": Command("batch", "grade a folder of submissions in parallel: reports, gradebook, class summary",
                     _configure_batch, _run_batch),
    "list": Command("list", "list the assignments this grader knows", _configure_list, _run_list),
    "demo": Command("demo", "grade the bundled example submissions as a batch: HTML reports, gradebook, summary",
                    _configure_demo, _run_demo),
    "release": Command("release", "write what students receive for an assignment (no reference material)",
                       _configure_release, _run_release),
    "validate": Command("validate", "check an assignment: reference full marks, template zero, samples as expected",
                        _configure_validate, _run_validate),
    "override": Command("override", "give a student points by hand (kept through regrades); --list shows them",
                        _configure_override, _run_override),
    "changes": Command("changes", "after a regrade: whose score moved, from what to what, which checks",
                       _configure_changes, _run_changes),
    "export": Command("export", "the course gradebook for Canvas, Moodle or as a CSV", _configure_export,
                      _run_export),
    "history": Command("history", "every grading, penalty and override of a student", _configure_history,
                       _run_history),
}


def _command_help() -> str:
    lines = ["commands (grade COMMAND --help for more):"]
    lines += [f"  {c.name:<10} {c.summary}" for c in COMMANDS.values()]
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are one line as the grader's own are (`--help` has the rest)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def _parser(command: Command | None) -> argparse.ArgumentParser:
    if command is None:
        parser = _Parser(
            prog="grade", description=DESCRIPTION,
            usage=f"grade [options] FILE\n       grade {{{','.join(COMMANDS)}}} ...   (grade COMMAND --help)",
            epilog=f"{_command_help()}\n{EXIT_CODES}\n{EXAMPLES}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _configure_grade(parser)
        return parser
    parser = _Parser(
        prog=f"grade {command.name}", description=command.summary, epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.configure(parser)
    return parser


NEEDS_SANDBOX = ("batch", "demo", "validate")  # they run submissions that are not the user's own


def _sandbox_possible() -> bool:
    """Can a sandboxed child start here: rlimits, sessions and process groups (POSIX)? (Asked
    without importing the own-kernel path: it pulls in nbclient.)"""
    try:
        import resource  # noqa: F401
    except ImportError:
        return False
    return all(hasattr(os, name) for name in ("setsid", "killpg", "getpgid"))


class Terminated(KeyboardInterrupt):
    """SIGTERM: unwinds as Ctrl-C does (sandboxes stopped, a batch's saved students kept)."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    # One OpenMP/BLAS thread in the grader: its own tensor work is small, and `grade batch` forks
    # workers, which deadlock on a thread pool that torch started before the fork.
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    arguments = list(sys.argv[1:] if argv is None else argv)
    if sys.stdout is None:  # started with its standard output closed (`grade ... >&-`): nowhere to say the result
        print("grade: error: the standard output is closed: redirect it (to a file, or to /dev/null) "
              "instead of closing it", file=sys.stderr)
        return EXIT_USAGE
    command = COMMANDS.get(arguments[0]) if arguments else None
    if command is not None and command.name in NEEDS_SANDBOX and not _sandbox_possible():
        print(f"grade: error: grade {command.name} runs students' code in a sandbox, which needs Linux "
              "(or macOS); on Windows use WSL2", file=sys.stderr)
        return EXIT_USAGE
    args = _parser(command).parse_args(arguments[1:] if command else arguments)
    if threading.current_thread() is threading.main_thread():  # SIGTERM unwinds, so sandboxes are stopped
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return command.run(args) if command else _run_grade(args)
    except GraderError as error:  # a kernel that did not start is the grader's failure on this submission: 1
        print(f"grade: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_FAILED if isinstance(error, KernelStartError) else EXIT_USAGE
    except KeyboardInterrupt as interrupt:
        print("grade: interrupted", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)
    except BrokenPipeError:  # the reader went away (e.g. `grade ... | head`)
        sys.stderr.close()
        return EXIT_FAILED


def run() -> None:
    """The `grade` command. The process ends without Python's teardown, which frees torch's (and
    dynamo's) modules and objects one by one: 0.5 to 1 CPU-s at the end of every `grade FILE` and
    `grade batch`, for nothing. Every file is written and closed by then, and every database engine
    disposed (an exit handler); the exit handlers run, the output is flushed. Where another thread
    still runs (a Dask client's), Python's own exit waits for it as usual."""
    code = main()
    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):  # AttributeError: started closed (None)
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
