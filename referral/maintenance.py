"""What the server's keeper runs (docs/operations.md): rotating the keys of personal data, and a
consistent copy of a SQLite database while the app runs."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Column, Table, Text, column, delete, insert, select, table, update

from .extensions import db
from .models import HelpRequest, NameKey
from .personal_data import Encrypted, keyring, match_key, name_keys

BATCH = 500


@dataclass
class Rotation:
    """How many values were encrypted again, by table and column, and matching hashes redone."""

    encrypted: dict[str, int] = field(default_factory=dict)
    matches: int = 0


def _encrypted_columns() -> list[tuple[Table, Column, list[Column]]]:
    """Each table with encrypted columns: (table, its primary key, those columns)."""
    found = []
    for model_table in db.metadata.sorted_tables:
        columns = [c for c in model_table.columns if isinstance(c.type, Encrypted)]
        if columns:
            (key,) = model_table.primary_key.columns
            found.append((model_table, key, columns))
    return found


def _batches(raw, key, *columns):
    """The rows of ``raw`` (a plain-typed view of a table) in batches by primary key."""
    last = None
    while True:
        query = select(raw.c[key], *(raw.c[name] for name in columns)).order_by(raw.c[key])
        if last is not None:
            query = query.where(raw.c[key] > last)
        rows = db.session.execute(query.limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def rotate_keys() -> Rotation:
    """Encrypt again with the newest of DATA_KEYS every value made with an older key, and redo
    the matching hashes (after a new MATCH_KEY). Batch by batch, each its own transaction, and
    each row only if it still holds what was read: safe while the app runs and writes with the
    newest key, and safe to run again after an interruption."""
    keys = keyring()
    rotation = Rotation()
    for model_table, key, columns in _encrypted_columns():
        for encrypted in columns:
            # The table seen as plain text: the tokens as stored, without decrypting them.
            raw = table(model_table.name, column(key.name), column(encrypted.name, Text))
            done = 0
            for rows in _batches(raw, key.name, encrypted.name):
                for row_id, token in rows:
                    if token is None or keys.is_newest(token):
                        continue
                    db.session.execute(
                        update(raw)
                        .where(raw.c[key.name] == row_id, _same(raw.c[encrypted.name], token))
                        .values({encrypted.name: keys.rotate(token)})
                    )
                    done += 1
                db.session.commit()
            rotation.encrypted[f"{model_table.name}.{encrypted.name}"] = done
    rotation.matches = _redo_matches() + _redo_name_keys()
    return rotation


def _redo_matches() -> int:
    """Matching hashes that differ from what MATCH_KEY gives now, redone where the contact is
    still the one read."""
    keys = keyring()
    raw = table(
        HelpRequest.__tablename__,
        *(column(name, Text) for name in ("id", "phone", "email", "phone_match", "email_match")),
    )
    redone = 0
    for rows in _batches(raw, "id", "phone", "email", "phone_match", "email_match"):
        for row_id, phone, email, *stored in rows:
            wanted = [
                match_key(kind, keys.decrypt(token) if token else None)
                for kind, token in (("phone", phone), ("email", email))
            ]
            if stored != wanted:
                db.session.execute(
                    update(raw)
                    .where(raw.c.id == row_id, _same(raw.c.phone, phone), _same(raw.c.email, email))
                    .values(phone_match=wanted[0], email_match=wanted[1])
                )
                redone += 1
        db.session.commit()
    return redone


def _redo_name_keys() -> int:
    """The hashes of the names' words redone where they differ from what MATCH_KEY gives now,
    and only where the name is still the one read, its row locked until the commit: a person
    erased meanwhile (the app runs beside) must not get the words of their name back."""
    raw = table(HelpRequest.__tablename__, column("id"), column("name", Text))
    redone = 0
    for rows in _batches(raw, "id", "name"):
        stored: dict[int, set[str]] = {}
        for request_id, key in db.session.execute(
            select(NameKey.request_id, NameKey.key).where(
                NameKey.request_id.in_([row[0] for row in rows])
            )
        ):
            stored.setdefault(request_id, set()).add(key)
        for request_id, token in rows:
            wanted = name_keys(keyring().decrypt(token) if token else None)
            if stored.get(request_id, set()) != wanted:
                still = select(raw.c.id).where(raw.c.id == request_id, _same(raw.c.name, token))
                if db.session.scalar(still.with_for_update()) is None:
                    continue
                db.session.execute(delete(NameKey).where(NameKey.request_id == request_id))
                if wanted:
                    db.session.execute(
                        insert(NameKey), [{"request_id": request_id, "key": k} for k in wanted]
                    )
                redone += 1
        db.session.commit()
    return redone


def _same(stored, value):
    return stored.is_(None) if value is None else stored == value


class NotSQLite(Exception):
    """``backup`` copies SQLite databases; PostgreSQL has pg_dump."""


def backup_sqlite(target: Path) -> int:
    """Copy the SQLite database to ``target`` (a new file, mode 600) with SQLite's online backup:
    consistent while the app writes, and holding only what the database holds (personal fields
    encrypted). The number of pages copied."""
    if db.engine.dialect.name != "sqlite":
        raise NotSQLite(db.engine.dialect.name)
    # Created empty and private first: the copy is never readable by others, even for a moment.
    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    destination = sqlite3.connect(target)
    try:
        source = db.engine.raw_connection()
        try:
            source.driver_connection.backup(destination)  # type: ignore[union-attr]
        finally:
            source.close()
        (check,) = destination.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise RuntimeError(f"the copy in {target} is damaged: {check}")
        (pages,) = destination.execute("PRAGMA page_count").fetchone()
    finally:
        destination.close()
    return pages
