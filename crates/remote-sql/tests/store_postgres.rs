//! Store-level tests on PostgreSQL.

mod common;
