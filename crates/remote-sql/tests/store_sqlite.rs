//! Store-level tests on SQLite.

mod common;
