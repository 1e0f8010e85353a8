"""The class list as the LMS exports it: who the students are, and every name they go by.

Canvas's gradebook export (`Student, ID, SIS User ID, SIS Login ID, Section`, then a "Points
Possible" row), Moodle's participants or grading worksheet (`First name, Last name, ID number,
Email address` or `Identifier` = "Participant 123", `Full name`), or any CSV with columns of
those names. A file in an export is matched to a student by any identifier the roster holds.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

MAX_ROSTER_BYTES = 20 * 2**20

# Each field, and the column headers (case-insensitive) it is read from, the first found wins.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("student", "name", "full name", "student name"),
    "first": ("first name", "given name"),
    "last": ("last name", "surname", "family name"),
    "lms_id": ("id", "user id", "canvas user id", "identifier", "participant", "participant id"),
    "sis_id": ("sis user id", "id number", "student id", "student number", "sis id"),
    "login": ("sis login id", "login id", "login", "username", "user name"),
    "email": ("email", "email address", "e-mail"),
    "section": ("section", "sections", "group", "groups"),
}
_PARTICIPANT = re.compile(r"^participant\s*(\d+)$", re.IGNORECASE)
_NOT_STUDENTS = {"points possible", "test student", "student, test"}


def name_key(name: str) -> str:
    """A person's name as compared: Unicode-normalised, case-folded, letters and digits only."""
    text = unicodedata.normalize("NFC", name).casefold()
    return "".join(ch for ch in text if ch.isalnum())


@dataclass(frozen=True)
class RosterStudent:
    """One student of the class list."""

    name: str = ""
    lms_id: str = ""
    sis_id: str = ""
    login: str = ""
    email: str = ""
    section: str = ""
    row: int = 0  # the CSV line, for messages

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every identifier this student can be named by, as given."""
        local = self.email.split("@")[0] if "@" in self.email else ""
        return tuple(i for i in (self.login, self.sis_id, self.email, local, self.lms_id) if i)

    @property
    def preferred_id(self) -> str:
        """The identifier a student is known by in the outputs: login, SIS id, email, LMS id, name."""
        return next((i for i in (self.login, self.sis_id, self.email, self.lms_id, self.name) if i), "")

    def matches_name(self, name: str) -> bool:
        """Whether `name` (a Moodle folder's "Jörg Müller", Canvas's "müllerjörg") is this student's."""
        return bool(self.name and name) and name_key(name) in self.name_keys

    @property
    def name_keys(self) -> frozenset[str]:
        """The name as compared, first name first and last name first ("Smith, John", "John Smith"
        and Canvas's "smithjohn" are one name)."""
        if "," in self.name:
            last, first = self.name.split(",", 1)
        else:
            words = self.name.split()
            first, last = " ".join(words[:-1]), words[-1] if words else ""
        return frozenset({name_key(self.name), name_key(first + last), name_key(last + first)})


@dataclass(frozen=True)
class Roster:
    """The class list, and lookups by each kind of identifier."""

    students: tuple[RosterStudent, ...]
    source: Path | None = None

    def by_identifier(self, key: str) -> RosterStudent | None:
        """The student one of whose identifiers (login, SIS id, email or its local part, LMS id) is
        `key`, compared case-insensitively."""
        wanted = unicodedata.normalize("NFC", key).casefold()
        found = [s for s in self.students if wanted in {i.casefold() for i in s.identifiers}]
        return found[0] if len(found) == 1 else None

    def by_lms_id(self, lms_id: str) -> RosterStudent | None:
        return next((s for s in self.students if s.lms_id and s.lms_id == lms_id), None)

    def by_name(self, name: str) -> RosterStudent | None:
        """The only student with this name, or None (no one, or several: a name is not an id)."""
        found = [s for s in self.students if s.matches_name(name)]
        return found[0] if len(found) == 1 else None


def read_roster(path: Path) -> Roster:
    """The roster CSV at `path`, or a UsageError that says what is wrong with it."""
    try:
        data = path.read_bytes()[: MAX_ROSTER_BYTES + 1]
    except OSError as error:
        raise UsageError(f"cannot read the roster {path}: {error.strerror}") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise UsageError(f"the roster {path} is larger than {MAX_ROSTER_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Excel's "CSV" on Windows
    rows = list(csv.reader(text.splitlines(), dialect=_dialect(text)))
    if not rows:
        raise UsageError(f"the roster {path} is empty")
    columns = _columns(rows[0], path)
    students = tuple(s for number, row in enumerate(rows[1:], start=2)
                     if (s := _student(row, columns, number)) is not None)
    if not students:  # every file would match no one, and be listed as such, never graded
        raise UsageError(f"the roster {path} lists no students, only its header")
    _check_unique(students, path)
    return Roster(students, path)


def _dialect(text: str) -> type[csv.Dialect]:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _columns(header: list[str], path: Path) -> dict[str, int]:
    names = [h.strip().casefold() for h in header]
    columns = {}
    for field, headers in COLUMNS.items():
        found = next((names.index(h) for h in headers if h in names), None)
        if found is not None:
            columns[field] = found
    if not {"name", "first", "last", "lms_id", "sis_id", "login", "email"} & columns.keys():
        raise UsageError(f"the roster {path} has no column of names or ids (its header: {', '.join(header)[:200]}; "
                         "expected e.g. Student, ID, SIS User ID, SIS Login ID, Email address)")
    return columns


def _student(row: list[str], columns: dict[str, int], number: int) -> RosterStudent | None:
    def cell(field: str) -> str:
        index = columns.get(field)
        return row[index].strip() if index is not None and index < len(row) else ""

    name = cell("name") or " ".join(p for p in (cell("first"), cell("last")) if p)
    lms_id = cell("lms_id")
    participant = _PARTICIPANT.match(lms_id)
    student = RosterStudent(unicodedata.normalize("NFC", name), participant.group(1) if participant else lms_id,
                            cell("sis_id"), cell("login"), cell("email"), cell("section"), number)
    if name.casefold() in _NOT_STUDENTS or not (student.name or student.identifiers):
        return None
    return student


def _check_unique(students: Iterable[RosterStudent], path: Path) -> None:
    seen: dict[tuple[str, str], RosterStudent] = {}
    for student in students:
        for kind, value in (("LMS id", student.lms_id), ("SIS id", student.sis_id), ("login", student.login),
                            ("email", student.email)):
            if not value:
                continue
            other = seen.setdefault((kind, value.casefold()), student)
            if other is not student:
                raise UsageError(f"the roster {path} gives the {kind} {value!r} to two students "
                                 f"(lines {other.row} and {student.row})")
