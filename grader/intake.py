"""From an LMS export to one entry per student: which files, whose, and which one counts.

    folder or .zip ─► layout (Canvas flat files, Moodle folders, one file or folder per student)
    ─► each file: whose (the export's ids, matched to the roster), which attempt, late or not
    ─► per student: the counted file by the pick policy, the others listed
    ─► student ids: readable, Unicode kept, capped, never colliding, never a spreadsheet formula

Nothing here follows a symbolic link out of a student's own folder or trusts a file's name:
a name only says whose a file is, and a student with a doubtful file gets an error row that
says why, never a classmate's marks.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from .errors import UsageError
from .roster import Roster, RosterStudent

SUFFIXES = (".ipynb", ".py")
IGNORED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX"}
LAYOUTS = ("auto", "canvas", "moodle", "plain")
PICKS = ("latest", "latest-before-deadline", "best")
MAX_ID_LENGTH = 64
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Canvas "Download Submissions": lastnamefirstname[_late|_LATE]_<user id>_<submission id>_<original name>,
# the original name with -1, -2 ... appended on resubmission.
CANVAS_FILE = re.compile(r"^(?P<name>[^\W_]+)_(?:(?P<late>late)_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$",
                         re.IGNORECASE)
RESUBMISSION = re.compile(r"^(?P<stem>.*?)-(?P<number>\d+)$")
# Moodle "Download all submissions": a folder Full Name_<participant id>_assignsubmission_file_
# (older versions: flat files Full Name_<id>_assignsubmission_file_<original name>).
MOODLE_MARK = re.compile(r"_(?P<participant>\d+)_assign(?:submission|feedback)_[a-z]+_")

STUDENT_ID_RULE = """\
students: the layout of DIR (a folder or a .zip as downloaded) is detected: Canvas's flat files
(name_[late_]userid_submissionid_file), Moodle's folders (Full Name_id_assignsubmission_file_),
or plain (a file per student, alice.ipynb -> alice, or a folder per student, alice/hw1.ipynb ->
alice); --layout forces one. With --roster, every file is matched to a roster student by the
export's id, login, SIS id, email or name, and files matching no one are listed, not graded.
Ids keep letters of any language; other characters become _, long ones are cut with a short
hash, and two that would collide are both told apart with their LMS id or a hash. Symbolic
links out of a student's own folder are not followed (that student gets an error). Names
starting with . or _ are ignored."""


@dataclass(frozen=True)
class SubmittedFile:
    """One file of the export: where it is, how the export names it, and when it came."""

    path: Path
    name: str  # as the export shows it: the path inside the folder or archive
    order: tuple[float, ...] = ()  # later attempts sort higher (resubmission number, LMS id, time)
    late: bool | None = None  # the LMS's late tag, or its time against --deadline; None: unknown
    problem: str = ""  # why it cannot be graded (a link out of the student's folder, ...)


@dataclass(frozen=True)
class Entry:
    """One student of the batch: the file(s) to grade, and those that do not count."""

    student: str
    files: tuple[SubmittedFile, ...]  # graded: the counted one, or every candidate (--pick best)
    others: tuple[SubmittedFile, ...] = ()  # not counted, listed in the student's details
    name: str = ""  # as the roster has it
    problem: str = ""  # why nothing can be graded
    listed: RosterStudent | None = None  # the roster's student (`student` may be their id made safe)

    @property
    def path(self) -> Path:
        return self.files[0].path

    @property
    def submission(self) -> str:
        return self.files[0].name


@dataclass(frozen=True)
class Absent:
    """A roster student with nothing in the export."""

    student: str
    name: str
    listed: RosterStudent | None = None


@dataclass(frozen=True)
class Intake:
    """What the export holds: the entries to grade, who has nothing, and what matched no one."""

    layout: str
    entries: tuple[Entry, ...]
    missing: tuple[Absent, ...] = ()  # roster students with no file
    unmatched: tuple[str, ...] = ()  # files that match no roster student, or the export's naming
    notes: tuple[str, ...] = ()  # ids told apart, and the like

    @property
    def students(self) -> list[str]:
        return [e.student for e in self.entries]


@dataclass
class _Owner:
    """Whose files these are, as far as the export says: its key is never merged with another."""

    key: str  # the export's own name for the student: a folder or file stem, or an LMS id
    name: str  # the readable part: the folder's name, Canvas's lastnamefirstname
    lms_id: str = ""
    files: list[SubmittedFile] = field(default_factory=list)
    student: RosterStudent | None = None
    attempts: bool = False  # each file is an attempt of its own (Canvas), not a part of one folder


# ---------------------------------------------------------------- student ids


def student_id(name: str) -> str:
    """A student id from any name: a safe file name and link, readable, Unicode letters kept.

    NFC-normalised; spaces and characters other than letters, digits and . _ - @ become _;
    never empty, never starting with . or a character a spreadsheet reads as a formula; at most
    MAX_ID_LENGTH characters (a longer one keeps its start and a hash of the whole)."""
    text = unicodedata.normalize("NFC", name).strip()
    text = "".join(ch if ch.isalnum() or ch in "._-@" else "_" for ch in text)
    text = re.sub(r"_+", "_", text).strip(".") or "_"
    if text.startswith(FORMULA_STARTS):
        text = "_" + text
    if len(text) > MAX_ID_LENGTH:
        text = f"{text[:MAX_ID_LENGTH - 9]}-{_short_hash(name)}"
    return text


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _assign_ids(owners: Sequence[_Owner]) -> tuple[dict[int, str], list[str]]:
    """An id for each owner; ids that collide (case-insensitively: macOS and Windows file names)
    are told apart visibly, and each collision is described."""
    wanted = {i: student_id(o.student.preferred_id if o.student else o.name) for i, o in enumerate(owners)}
    groups: dict[str, list[int]] = {}
    for index, sid in wanted.items():
        groups.setdefault(sid.casefold(), []).append(index)
    notes = []
    for indexes in groups.values():
        if len(indexes) < 2:
            continue
        exact = [i for i in indexes if wanted[i] == owners[i].name]
        keep = exact[0] if len(exact) == 1 else None  # the one named exactly so keeps its name
        for i in indexes:
            if i != keep:
                tag = owners[i].lms_id or _short_hash(owners[i].key)
                wanted[i] = student_id(f"{wanted[i][:MAX_ID_LENGTH - len(tag) - 1]}-{tag}")
        names = " and ".join(repr(owners[i].key) for i in indexes)
        notes.append(f"{names} would share the id {wanted[indexes[0]].split('-')[0]!r}: told apart as "
                     + ", ".join(wanted[i] for i in indexes))
    return wanted, notes


# ---------------------------------------------------------------- reading the folder


def _hidden(name: str) -> bool:
    return name.startswith((".", "_")) or name in IGNORED_FOLDERS


def _link_problem(path: Path, own_folder: Path | None, owner: int) -> str:
    """Why a symbolic link cannot be graded: another user made it (the grader follows only its own
    and root's links: grader/files.py), or it points out of the student's own folder."""
    if owner not in (0, os.geteuid()):
        return f"{path.name} is a symbolic link another user (uid {owner}) made; submit the file itself"
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return f"{path.name} is a symbolic link to nothing that exists; submit the file itself"
    if own_folder is not None and target.is_relative_to(own_folder.resolve()) and target.is_file():
        return ""
    return f"{path.name} is a symbolic link out of the student's own folder; submit the file itself"


def _file(path: Path, folder: Path, own_folder: Path | None, order: tuple[float, ...] = (),
          late: bool | None = None) -> SubmittedFile:
    name = path.relative_to(folder).as_posix()
    problem = ""
    try:
        info = path.lstat()
    except OSError as error:
        return SubmittedFile(path, name, order, late, f"cannot read {path.name}: {error.strerror}")
    if stat.S_ISLNK(info.st_mode):
        problem = _link_problem(path, own_folder, info.st_uid)
        info = path.stat() if not problem else info
    elif not stat.S_ISREG(info.st_mode):
        problem = f"{path.name} is not a regular file"
    return SubmittedFile(path, name, order or (info.st_mtime,), late, problem)


def _walk(top: Path, folder: Path) -> Iterable[SubmittedFile]:
    """The submission files in a student's folder `top`, links included (never entered)."""
    try:
        children = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError:
        return
    for child in children:
        if _hidden(child.name):
            continue
        path = Path(child.path)
        if child.is_dir(follow_symlinks=False):
            yield from _walk(path, folder)
        elif child.is_symlink() and path.is_dir():
            yield _linked_folder(path, folder)
        elif path.suffix in SUFFIXES:
            yield _file(path, folder, top)


def _linked_folder(path: Path, folder: Path) -> SubmittedFile:
    """A link to a folder where a student's files should be: never entered, an error for them."""
    return SubmittedFile(path, path.relative_to(folder).as_posix(), (0.0,), None,
                         f"{path.name} is a symbolic link to a folder; submit the files themselves")


def _top(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return sorted((e for e in os.scandir(folder) if not _hidden(e.name)), key=lambda e: e.name)
    except OSError as error:
        raise UsageError(f"cannot read the folder {folder}: {error.strerror}") from None


def detect_layout(folder: Path) -> str:
    """canvas, moodle or plain, by how most of the top-level names look."""
    top = _top(folder)
    folders = [e for e in top if e.is_dir(follow_symlinks=False)]
    files = [e for e in top if not e.is_dir(follow_symlinks=False)]
    if folders and sum(moodle_owner(e.name, folder=True) is not None for e in folders) * 2 >= len(folders):
        return "moodle"
    if files and sum(moodle_owner(e.name, folder=False) is not None for e in files) * 2 > len(files):
        return "moodle"
    if files and sum(bool(CANVAS_FILE.match(e.name)) for e in files) * 2 > len(files):
        return "canvas"
    return "plain"


def _canvas_owners(folder: Path) -> tuple[list[_Owner], list[str]]:
    owners: dict[str, _Owner] = {}
    unrecognised = []
    for entry in _top(folder):
        path = Path(entry.path)
        found = CANVAS_FILE.match(entry.name)
        if entry.is_dir(follow_symlinks=False) or path.suffix not in SUFFIXES:
            continue
        if not found:
            unrecognised.append(f"{entry.name}: not named as Canvas names submissions")
            continue
        stem = Path(found["original"]).stem
        again = RESUBMISSION.match(stem)
        order = (float(again["number"]) if again else 0.0, float(found["submission"]))
        owner = owners.setdefault(found["user"], _Owner(found["user"], found["name"], found["user"], attempts=True))
        owner.files.append(_file(path, folder, None, order, late=bool(found["late"])))
    return list(owners.values()), unrecognised


def moodle_owner(name: str, folder: bool) -> tuple[str, str] | None:
    """The participant id and full name a Moodle entry's name gives, or None where it gives none
    for certain. The student may have put anything in their full name (and a flat file's original
    name is theirs too), "Ann Lee_4243_assignsubmission_file_" included: a folder's owner is read
    from the end of its name, where Moodle put it; a flat file's name must hold one mark only."""
    marks = list(MOODLE_MARK.finditer(name))
    if not marks or marks[-1].start() == 0 or (folder and marks[-1].end() != len(name)):
        return None
    if not folder and len(marks) > 1:
        return None
    return marks[-1]["participant"], name[:marks[-1].start()]


def _moodle_owners(folder: Path) -> tuple[list[_Owner], list[str]]:
    owners: dict[str, _Owner] = {}
    unrecognised = []
    for entry in _top(folder):
        path = Path(entry.path)
        found = moodle_owner(entry.name, entry.is_dir(follow_symlinks=False))
        if found is None:
            if entry.is_dir(follow_symlinks=False) or path.suffix in SUFFIXES:
                unrecognised.append(f"{entry.name}: not named as Moodle names submissions, or in more than one way")
            continue
        participant, name = found
        owner = owners.setdefault(participant, _Owner(participant, name, participant))
        if entry.is_symlink():
            owner.files.append(SubmittedFile(path, entry.name, (0.0,), None,
                                             f"{entry.name} is a symbolic link; submit the files themselves"))
        elif entry.is_dir(follow_symlinks=False):
            owner.files.extend(_walk(path, folder))
        elif path.suffix in SUFFIXES:
            owner.files.append(_file(path, folder, None))
    return list(owners.values()), unrecognised


def _plain_owners(folder: Path) -> tuple[list[_Owner], list[str]]:
    owners = []
    for entry in _top(folder):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            owner = _Owner(entry.name, entry.name, files=list(_walk(path, folder)))
        elif path.suffix in SUFFIXES:
            owner = _Owner(entry.name, path.stem, files=[_file(path, folder, None)])
        elif entry.is_symlink() and path.is_dir():
            owner = _Owner(entry.name, entry.name, files=[_linked_folder(path, folder)])
        else:
            continue
        if owner.files:
            owners.append(owner)
    return owners, []


# ---------------------------------------------------------------- the roster and the pick


def _match(owners: list[_Owner], roster: Roster, layout: str) -> list[str]:
    """Give each owner its roster student; those matching no one (or someone already matched)
    are dropped and described."""
    unmatched = []
    for owner in owners:
        by_id = roster.by_lms_id(owner.lms_id) if owner.lms_id else None
        if by_id is None and layout == "plain":
            by_id = roster.by_identifier(owner.name)
        owner.student = by_id or roster.by_name(owner.name)
        if owner.student is None:
            unmatched += [f"{f.name}: matches no student of the roster" for f in owner.files]
    matched: dict[int, _Owner] = {}
    for owner in owners:
        if owner.student is not None:
            first = matched.setdefault(id(owner.student), owner)
            if first is not owner:  # two folders for one student: their files are one student's
                first.files.extend(owner.files)
                owner.files = []
    owners[:] = [o for o in owners if o.student is not None and o.files]
    return unmatched


def pick(files: Sequence[SubmittedFile], policy: str) -> tuple[tuple[SubmittedFile, ...], tuple[SubmittedFile, ...]]:
    """The files to grade and the others, by `policy`: latest (the highest resubmission, else the
    newest), latest-before-deadline (the latest not late; the latest if all are late), or best
    (all graded, the best counts). Files that cannot be graded count only when nothing else is."""
    usable = [f for f in files if not f.problem] or list(files)
    ordered = sorted(usable, key=lambda f: (f.order, f.name), reverse=True)
    if policy == "best":
        chosen = ordered
    elif policy == "latest-before-deadline":
        chosen = ([f for f in ordered if not f.late] or ordered)[:1]
    else:
        chosen = ordered[:1]
    return tuple(chosen), tuple(f for f in files if f not in chosen)


def _preferred(files: list[SubmittedFile]) -> list[SubmittedFile]:
    """In a folder with notebooks and modules, the notebooks are the submission (a .py beside
    one is a helper)."""
    notebooks = [f for f in files if f.name.endswith(".ipynb")]
    return notebooks or files


def _with_deadline(files: list[SubmittedFile], deadline: datetime | None) -> list[SubmittedFile]:
    if deadline is None:
        return files
    return [f if f.late is not None else replace(f, late=f.order[-1] > deadline.timestamp()) for f in files]


# ---------------------------------------------------------------- the whole export


def not_an_export(path: Path) -> UsageError:
    """The error for an export that is neither a folder nor a .zip."""
    there = "" if os.path.lexists(path) else ": there is no such file or folder"
    return UsageError(f"{path} is not a folder of submissions (nor a .zip){there}")


def read_export(folder: Path, layout: str = "auto", roster: Roster | None = None, policy: str = "latest",
                deadline: datetime | None = None) -> Intake:
    """Every student's entry in the export at `folder`, sorted by id."""
    if not folder.is_dir():
        raise not_an_export(folder)
    layout = detect_layout(folder) if layout == "auto" else layout
    reader = {"canvas": _canvas_owners, "moodle": _moodle_owners, "plain": _plain_owners}[layout]
    owners, unmatched = reader(folder)
    missing: list[Absent] = []
    if roster is None:
        ids, notes = _assign_ids(owners)
    else:
        unmatched += _match(owners, roster, layout)
        everyone = [_Owner(s.preferred_id, s.preferred_id, s.lms_id, student=s) for s in roster.students]
        by_student, notes = _assign_ids(everyone)
        index_of = {id(s): i for i, s in enumerate(roster.students)}
        ids = {i: by_student[index_of[id(o.student)]] for i, o in enumerate(owners)}
        have = {id(o.student) for o in owners}
        missing = [Absent(by_student[i], s.name, s) for i, s in enumerate(roster.students) if id(s) not in have]
    entries = [_entry(ids[i], owner, policy, deadline) for i, owner in enumerate(owners)]
    return Intake(layout, tuple(sorted(entries, key=lambda e: e.student)),
                  tuple(sorted(missing, key=lambda a: a.student)), tuple(unmatched), tuple(notes))


def _entry(student: str, owner: _Owner, policy: str, deadline: datetime | None) -> Entry:
    preferred = owner.files if owner.attempts else _preferred(owner.files)
    counted, others = pick(_with_deadline(preferred, deadline), policy)
    others += tuple(f for f in owner.files if f not in preferred)
    problem = counted[0].problem if len(counted) == 1 else ""
    return Entry(student, counted, others, owner.student.name if owner.student else "", problem, owner.student)
