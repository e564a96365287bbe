//! Versioned schema migrations, embedded per dialect (`migrations/<dialect>/<version>_<words>.sql`)
//! and run by one runner for every dialect.
//!
//! The SQL files are templates: table names depend on the prefix and schema chosen at run
//! time, which sqlx's own migrator (a fixed `_sqlx_migrations` table, static SQL) cannot
//! express. So the store runs them itself, under a lock (a PostgreSQL advisory lock, SQLite's
//! `BEGIN IMMEDIATE`, a MySQL `GET_LOCK`), recording `(version, description, checksum)` in
//! `<prefix>migrations`. A migration once applied is never edited: a later release adds one.

use chrono::Utc;
use remote_core::{Error, Result};

use crate::config::Tables;
use crate::dialect::{fnv1a, Dialect};
use crate::engine::{Engine, Param, Session};
use crate::queries::{files, Queries, MIGRATIONS, Q};
use crate::row;

/// One embedded migration.
#[derive(Debug)]
pub(crate) struct Migration {
    pub version: i64,
    pub description: String,
    pub sql: &'static str,
}

impl Migration {
    /// A hash of the template, so a migration edited after it ran is noticed.
    pub(crate) fn checksum(&self) -> i64 {
        fnv1a(self.sql.as_bytes())
    }
}

/// The migrations of `dialect` in version order, from their file names (`0003_column_names`
/// is version 3, "column names").
pub(crate) fn migrations(dialect: &Dialect) -> Vec<Migration> {
    files(MIGRATIONS, dialect.dir)
        .iter()
        .filter_map(|(stem, sql)| {
            let (number, words) = stem.split_once('_')?;
            Some(Migration {
                version: number.parse().ok()?,
                description: words.replace('_', " "),
                sql,
            })
        })
        .collect()
}

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

/// Brings the schema of the store's tables up to date, under the dialect's lock.
pub(crate) async fn run(engine: &dyn Engine, queries: &Queries, tables: &Tables) -> Result<()> {
    let dialect = engine.dialect();
    let context = format!("cannot migrate the {} schema", dialect.name);
    let fail = |e: sqlx::Error| Error::store(context.clone(), e);
    let lock_name = format!("remote-sql:{}", tables.migrations);
    // The PostgreSQL key of earlier releases: one advisory lock per schema.
    let lock_key =
        fnv1a(format!("remote-sql:{}", tables.schema.as_deref().unwrap_or("")).as_bytes());
    let lock_args = [
        ("lock_name", Param::Text(&lock_name)),
        ("lock_key", Param::Int(lock_key)),
    ];
    let mut tx = engine.begin().await.map_err(fail)?;
    if let Some(lock) = queries.find(Q::lock_migrations) {
        let rows = tx
            .fetch(lock, &lock.params(&lock_args)?)
            .await
            .map_err(fail)?;
        let locked = rows
            .first()
            .map(|r| row::int(r.as_ref(), "locked"))
            .transpose()?;
        if locked != Some(1) {
            return Err(Error::store_msg(format!(
                "{context}: the migration lock was not granted"
            )));
        }
    }
    let outcome = apply(tx.as_mut(), queries, tables, dialect).await;
    // A session lock (MySQL) outlives the transaction: release it whatever happened.
    let unlocked = match queries.find(Q::unlock_migrations) {
        Some(unlock) => tx
            .fetch(unlock, &unlock.params(&lock_args)?)
            .await
            .map(|_| ())
            .map_err(fail),
        None => Ok(()),
    };
    outcome?;
    unlocked?;
    tx.commit().await.map_err(fail)
}

/// Runs the pending migrations in `tx`.
async fn apply(
    tx: &mut dyn Session,
    queries: &Queries,
    tables: &Tables,
    dialect: &Dialect,
) -> Result<()> {
    let table = queries.get(Q::migrations_table)?;
    tx.script(&table.sql)
        .await
        .map_err(step("create the migrations table"))?;
    let read = queries.get(Q::applied_migrations)?;
    let rows = tx
        .fetch(read, &[])
        .await
        .map_err(step("read the applied migrations"))?;
    let applied = rows
        .iter()
        .map(|r| {
            Ok((
                row::int(r.as_ref(), "version")?,
                row::int(r.as_ref(), "checksum")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let known = migrations(dialect);
    let record = queries.get(Q::record_migration)?;
    for migration in pending(&known, &applied)? {
        tx.script(&tables.render(dialect, migration.sql))
            .await
            .map_err(step("apply a migration"))?;
        let args = [
            ("version", Param::Int(migration.version)),
            ("description", Param::Text(&migration.description)),
            ("checksum", Param::Int(migration.checksum())),
            ("now", Param::Time(Utc::now())),
        ];
        tx.execute(record, &record.params(&args)?)
            .await
            .map_err(step("record a migration"))?;
        tracing::info!(
            version = migration.version,
            schema = tables.schema,
            prefix = tables.prefix,
            "applied migration"
        );
    }
    Ok(())
}

fn step(what: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::store(format!("cannot {what}"), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<Migration> {
        vec![
            Migration {
                version: 1,
                description: "one".into(),
                sql: "CREATE TABLE {jobs} (id text);",
            },
            Migration {
                version: 2,
                description: "two".into(),
                sql: "ALTER TABLE {items} ADD c int;",
            },
        ]
    }

    #[test]
    fn pending_skips_applied_and_checks_checksums() {
        let known = known();
        let all = pending(&known, &[]).unwrap();
        assert_eq!(all.len(), 2);
        let rest = pending(&known, &[(1, known[0].checksum())]).unwrap();
        assert_eq!(rest.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        assert!(pending(&known, &[(1, 0)]).is_err());
        let newer = pending(
            &known,
            &[(1, known[0].checksum()), (2, known[1].checksum()), (3, 7)],
        );
        assert!(newer.unwrap().is_empty());
    }

    /// Databases of earlier releases recorded these: the files must never change.
    #[test]
    fn released_migrations_keep_their_checksums() {
        let checksums = |dir: &str| {
            files(MIGRATIONS, dir)
                .iter()
                .map(|(stem, sql)| (*stem, fnv1a(sql.as_bytes())))
                .collect::<Vec<_>>()
        };
        let pg = checksums("postgres");
        assert_eq!(pg[0], ("0001_init", 7182839439173407808));
        assert_eq!(pg[1], ("0002_claim_order", 7735462283803277141));
        assert_eq!(checksums("sqlite")[0], ("0001_init", 7356714579885307260));
    }

    #[test]
    fn versions_and_descriptions_come_from_file_names() {
        for (dir, _) in MIGRATIONS {
            let dialect = Dialect::new("test", dir);
            let found = migrations(&dialect);
            assert_eq!(
                found.len(),
                files(MIGRATIONS, dir).len(),
                "{dir}: every file is a migration"
            );
            assert!(
                found.windows(2).all(|w| w[0].version < w[1].version),
                "{dir}"
            );
        }
        let sqlite = Dialect::new("test", "sqlite");
        assert_eq!(migrations(&sqlite)[1].description, "column names");
    }
}
