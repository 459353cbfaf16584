"""The embryologists' decisions: an append-only JSONL log in which each record carries the
previous record's hash (a chain), and the latest hash and count kept outside it (audit.head).

    {"seq": 3, "time": "2026-12-01T09:14:02+00:00", "embryo": "...", "grade": "B", "by": "...",
     "note": "...", "account": "user@host", "ai_grade": "C", "ai_ratio": 0.27, "bundle": "...",
     "prev": "<hash of record 2>", "hash": "<sha256 of this record without 'hash'>"}

What `verify` finds: a record edited (its hash no longer matches it, or the next one's `prev`
no longer matches it), a record deleted (a gap in `seq`, a `prev` that does not follow), a
cut-off tail (fewer records than audit.head counts, or a last hash that is not the head's),
a log or head removed. What it cannot: someone who rewrites every hash after an edit and the
head too (the hashes are not keyed); against that, keep a copy of the head elsewhere (the
report prints it). A confirm locks the log (flock), checks it, appends one line, syncs it,
then replaces the head atomically."""

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path

from edgegrade.errors import AuditBroken, EdgegradeError, os_error
from edgegrade.files import atomic_write_text, make_dir

LOG, HEAD = "audit.jsonl", "audit.head"
GENESIS = "0" * 64


def record_hash(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


class AuditLog:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.path, self.head_path = self.folder / LOG, self.folder / HEAD

    def read(self) -> tuple[list[dict], list[str]]:
        """-> (the records that parse, in order; what is wrong with the log, in words)."""
        problems, records = [], []
        head = self.head()
        if not self.path.exists():
            if head and head.get("seq", 0) > 0:
                problems.append(f"{self.path} is missing, but {HEAD} counts {head['seq']} decision(s): the log was deleted")
            return records, problems
        prev, expected = GENESIS, 1
        for n, line in enumerate(self.path.read_bytes().split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError:
                problems.append(f"{self.path}: line {n} is not a record (edited or damaged)")
                prev, expected = None, expected + 1
                continue
            seq = record.get("seq")
            if seq != expected:
                problems.append(f"{self.path}: record {seq} stands where record {expected} should: "
                                f"{'a record before it was deleted' if isinstance(seq, int) and seq > expected else 'records were moved or edited'}")
            if prev is not None and record.get("prev") != prev:
                problems.append(f"{self.path}: record {seq} does not follow the record before it "
                                "(that one was edited, or one between them deleted)")
            if record.get("hash") != record_hash(record):
                problems.append(f"{self.path}: record {seq} was edited (its hash does not match its content)")
            records.append(record)
            prev, expected = record.get("hash"), (seq if isinstance(seq, int) else expected) + 1
        problems += self._check_head(head, records)
        return records, problems

    def _check_head(self, head: dict | None, records: list[dict]) -> list[str]:
        count, last = len(records), (records[-1].get("hash") if records else GENESIS)
        if head is None:
            return [f"{self.head_path} is missing or unreadable: the log's end cannot be checked"] if records else []
        if head.get("seq", 0) > count:
            return [f"{self.path} ends after {count} record(s), {HEAD} counts {head['seq']}: "
                    f"the last {head['seq'] - count} were cut off"]
        if head.get("seq", 0) < count:
            return [f"{self.path} holds {count - head.get('seq', 0)} record(s) more than {HEAD} counts: "
                    "added by something other than `edgegrade confirm` (or a confirm cut short)"]
        if head.get("hash") != last:
            return [f"{self.path}: its last record is not the one {HEAD} names (edited or replaced)"]
        return []

    def head(self) -> dict | None:
        try:
            head = json.loads(self.head_path.read_text())
            return head if isinstance(head, dict) and isinstance(head.get("seq"), int) else None
        except (OSError, ValueError):
            return None

    @contextmanager
    def locked(self):
        """The report folder held against another confirm for the duration (POSIX flock on
        the folder itself: no lock file, and nothing created before the log verifies)."""
        make_dir(self.folder)
        try:
            import fcntl
        except ImportError:  # no flock (Windows): one confirm at a time is the user's care
            yield
            return
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def append(self, entry: dict) -> dict:
        """Chain `entry` onto the log and move the head to it; -> the record written. Refused
        (AuditBroken) when the log does not verify: nothing is added to a broken chain. A write
        that fails (a full disk) is cut back off, so the log stays as it was."""
        with self.locked():
            records, problems = self.read()
            if problems:
                raise AuditBroken(f"{problems[0]}; nothing was recorded"
                                  + (f" ({len(problems) - 1} more problem(s): see the report)" if len(problems) > 1 else ""))
            record = {"seq": len(records) + 1, **entry, "prev": records[-1]["hash"] if records else GENESIS}
            record["hash"] = record_hash(record)
            size = self._write_line((json.dumps(record, ensure_ascii=False) + "\n").encode())
            try:
                atomic_write_text(self.head_path, json.dumps({"seq": record["seq"], "hash": record["hash"]}))
            except EdgegradeError:  # no head for it: the line goes too, so log and head still agree
                os.truncate(self.path, size)
                raise
        return record

    def _write_line(self, line: bytes) -> int:
        """Append one line, synced; a failed write is cut back off. -> the size before it."""
        try:
            with open(self.path, "ab", buffering=0) as f:  # unbuffered: nothing of a failed line lingers
                size = f.seek(0, os.SEEK_END)
                try:
                    data = memoryview(line)
                    while data:
                        data = data[f.write(data):]
                    os.fsync(f.fileno())
                except OSError:
                    os.ftruncate(f.fileno(), size)
                    raise
        except OSError as exc:
            raise os_error(self.path, exc) from None
        return size
