//! Versioned schema migrations, embedded per dialect and shared by both runners.
//!
//! The SQL files are templates: table names depend on the prefix and schema chosen at run
//! time, which sqlx's own migrator (a fixed `_sqlx_migrations` table, static SQL) cannot
//! express. So each dialect runs them itself, inside one locked transaction, recording
//! `(version, description, checksum)` in `<prefix>migrations`.

use remote_core::__private::fnv1a;
use remote_core::{Error, Result};

use crate::config::Tables;

/// One embedded migration.
pub(crate) struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// A hash of the template, so a migration edited after it ran is noticed.
    pub fn checksum(&self) -> i64 {
        i64::from_ne_bytes(fnv1a(self.sql.as_bytes()).to_ne_bytes())
    }

    /// The SQL with this store's table names filled in.
    pub fn render(&self, tables: &Tables) -> String {
        self.sql
            .replace("{jobs}", &tables.jobs)
            .replace("{errors}", &tables.errors)
            .replace("{items}", &tables.items)
            .replace("{prefix}", &tables.prefix)
            .replace(
                "{schema}",
                &tables
                    .schema
                    .as_ref()
                    .map_or_else(String::new, |s| format!("\"{s}\".")),
            )
    }
}

/// Migrations of the PostgreSQL dialect, in version order.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        description: "jobs, error records and scheduler items",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        description: "the claim index alone gives the claim's order",
        sql: include_str!("../migrations/postgres/0002_claim_order.sql"),
    },
];

/// Migrations of the SQLite dialect, in version order.
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: &[Migration] = &[Migration {
    version: 1,
    description: "jobs, error records and scheduler items",
    sql: include_str!("../migrations/sqlite/0001_init.sql"),
}];

/// The migrations still to run, given the `(version, checksum)` pairs already recorded.
///
/// A recorded migration whose checksum differs is an error; versions newer than this release
/// knows (a later release migrated the database) are left alone with a warning.
pub(crate) fn pending<'a>(
    known: &'a [Migration],
    applied: &[(i64, i64)],
) -> Result<Vec<&'a Migration>> {
    for &(version, checksum) in applied {
        match known.iter().find(|m| m.version == version) {
            Some(m) if m.checksum() != checksum => {
                return Err(Error::store_msg(format!(
                    "migration {version} ({}) differs from the one applied to this database",
                    m.description
                )));
            }
            Some(_) => {}
            None => tracing::warn!(
                version,
                "the database has a migration newer than this release of remote-sql"
            ),
        }
    }
    Ok(known
        .iter()
        .filter(|m| !applied.iter().any(|&(v, _)| v == m.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[Migration] = &[
        Migration {
            version: 1,
            description: "one",
            sql: "CREATE TABLE {jobs} (id text); CREATE INDEX \"{prefix}x\" ON {jobs} (id); \
                  DROP INDEX {schema}\"{prefix}y\";",
        },
        Migration {
            version: 2,
            description: "two",
            sql: "ALTER TABLE {items} ADD c int;",
        },
    ];

    #[test]
    fn pending_skips_applied_and_checks_checksums() {
        let all = pending(KNOWN, &[]).unwrap();
        assert_eq!(all.len(), 2);
        let rest = pending(KNOWN, &[(1, KNOWN[0].checksum())]).unwrap();
        assert_eq!(rest.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        assert!(pending(KNOWN, &[(1, 0)]).is_err());
        let newer = pending(
            KNOWN,
            &[(1, KNOWN[0].checksum()), (2, KNOWN[1].checksum()), (3, 7)],
        );
        assert!(newer.unwrap().is_empty());
    }

    #[test]
    fn render_fills_in_table_names() {
        let tables = Tables::postgres(&crate::SqlOptions::new().schema("s").table_prefix("p_"));
        assert_eq!(
            KNOWN[0].render(&tables),
            "CREATE TABLE \"s\".\"p_jobs\" (id text); CREATE INDEX \"p_x\" ON \"s\".\"p_jobs\" (id); \
             DROP INDEX \"s\".\"p_y\";"
        );
    }
}
