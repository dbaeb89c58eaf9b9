"""English is the source language: its catalogue's translations are the message ids themselves."""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

path = Path(__file__).resolve().parent.parent / "translations/en/LC_MESSAGES/messages.po"
with path.open("rb") as f:
    catalog = read_po(f, locale="en")
for message in catalog:
    if not message.id:
        continue  # the catalogue header
    if message.pluralizable and not all(message.string):
        message.string = tuple(message.id)
    elif not message.pluralizable and not message.string:
        message.string = message.id
    message.flags.discard("fuzzy")
with path.open("wb") as f:
    write_po(f, catalog, sort_output=True, width=100)
