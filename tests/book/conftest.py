"""Build the book once per session from the fixture ``data/`` (see :mod:`bookbuild`)."""

from __future__ import annotations

import pytest
from bookbuild import FIXTURE_DATA, BuiltBook, build_book, copy_book


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    src = copy_book(tmp_path_factory.mktemp("book") / "book")
    book = build_book(src, FIXTURE_DATA)
    print(f"\nbook built from the fixture in {book.seconds:.1f} s (exit {book.returncode})")
    return book
