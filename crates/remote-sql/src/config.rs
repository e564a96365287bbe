//! Options of a SQL store and the table names they produce.

use std::time::Duration;

use remote_core::{Error, Result};

use crate::dialect::{fnv1a, Dialect};
use crate::store::{SqlPool, SqlStore};

/// Prefix of every table when none is set.
pub const DEFAULT_TABLE_PREFIX: &str = "remote_";
/// PostgreSQL schema of the tables when none is set.
pub const DEFAULT_SCHEMA: &str = "public";

/// Longest table prefix: PostgreSQL cuts identifiers at 63 bytes (MySQL at 64) and index names
/// add a suffix.
const MAX_PREFIX_LEN: usize = 40;
/// Longest PostgreSQL identifier.
const MAX_IDENTIFIER_LEN: usize = 63;

/// How a [`SqlStore`] names its tables, whether it migrates, and how its pool is sized.
///
/// Built with chained setters, then [`connect`](Self::connect) or [`from_pool`](Self::from_pool):
/// `SqlOptions::new().table_prefix("billing_").connect("postgres://…").await`.
#[derive(Clone, Debug)]
pub struct SqlOptions {
    pub(crate) table_prefix: String,
    pub(crate) schema: String,
    pub(crate) run_migrations: bool,
    pub(crate) listen: bool,
    pub(crate) max_connections: Option<u32>,
    pub(crate) busy_timeout: Duration,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            table_prefix: DEFAULT_TABLE_PREFIX.to_owned(),
            schema: DEFAULT_SCHEMA.to_owned(),
            run_migrations: true,
            listen: true,
            max_connections: None,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqlOptions {
    /// The defaults: prefix `remote_`, schema `public`, migrations on connect, LISTEN on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prefix of every table (`<prefix>jobs`, …): letters, digits and `_`, at most 40; may be empty.
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// PostgreSQL schema holding the tables, created if missing (ignored by SQLite and MySQL,
    /// whose tables live in the URL's database).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Whether connecting brings the schema up to date (default `true`); see [`SqlStore::migrate`].
    pub fn run_migrations(mut self, run: bool) -> Self {
        self.run_migrations = run;
        self
    }

    /// Whether a PostgreSQL store LISTENs for jobs added by other processes (default `true`).
    pub fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// Size of the pool a URL connection opens (default 5; an SQLite `:memory:` pool is always 1).
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// How long an SQLite connection waits for the file's write lock (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens a store on a `postgres://`, `sqlite:` or `mysql://` URL with these options.
    pub async fn connect(self, url: &str) -> Result<SqlStore> {
        SqlStore::connect_with(url, self).await
    }

    /// Opens a store on an existing pool with these options.
    pub async fn from_pool(self, pool: impl Into<SqlPool>) -> Result<SqlStore> {
        SqlStore::from_pool_with(pool.into(), self).await
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_identifier("table prefix", &self.table_prefix, MAX_PREFIX_LEN, true)?;
        check_identifier("schema", &self.schema, MAX_IDENTIFIER_LEN, false)
    }
}

fn check_identifier(what: &str, value: &str, max: usize, may_be_empty: bool) -> Result<()> {
    let well_formed = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !value.starts_with(|c: char| c.is_ascii_digit());
    if !well_formed || value.len() > max || (value.is_empty() && !may_be_empty) {
        return Err(Error::InvalidInput(format!(
            "{what} '{}' must be letters, digits and '_' (not starting with a digit), \
             at most {max} characters{}",
            value.chars().take(80).collect::<String>(),
            if may_be_empty { "" } else { ", not empty" },
        )));
    }
    Ok(())
}

/// Quoted, qualified table names and the notification channel of one store.
#[derive(Clone, Debug)]
pub(crate) struct Tables {
    pub prefix: String,
    /// The schema, where the dialect has schemas.
    pub schema: Option<String>,
    pub jobs: String,
    pub errors: String,
    pub items: String,
    pub migrations: String,
    /// Paused job names (R31).
    pub paused: String,
    /// Named maintenance leases (R33).
    pub leaders: String,
    /// The PostgreSQL NOTIFY channel of the jobs table.
    pub channel: String,
}

impl Tables {
    /// The tables of a store with `options` in `dialect`: `"schema"."<prefix>jobs"`,
    /// `"<prefix>jobs"` or `` `<prefix>jobs` ``.
    pub(crate) fn new(options: &SqlOptions, dialect: &Dialect) -> Self {
        let prefix = &options.table_prefix;
        let schema = dialect.schemas.then(|| options.schema.clone());
        let q = dialect.quote;
        let name = |table: &str| match &schema {
            Some(schema) => format!("{q}{schema}{q}.{q}{prefix}{table}{q}"),
            None => format!("{q}{prefix}{table}{q}"),
        };
        let channel = format!("{}.{prefix}jobs", options.schema);
        let channel = if channel.len() <= MAX_IDENTIFIER_LEN {
            channel
        } else {
            format!("remote_{:016x}", fnv1a(channel.as_bytes()))
        };
        Self {
            jobs: name("jobs"),
            errors: name("errors"),
            items: name("items"),
            migrations: name("migrations"),
            paused: name("paused"),
            leaders: name("leaders"),
            prefix: prefix.clone(),
            schema,
            channel,
        }
    }

    /// What the query and migration files write in braces, with its text in this store.
    pub(crate) fn vars(&self, dialect: &Dialect) -> Vec<(&'static str, String)> {
        let q = dialect.quote;
        vec![
            ("{jobs}", self.jobs.clone()),
            ("{errors}", self.errors.clone()),
            ("{items}", self.items.clone()),
            ("{migrations}", self.migrations.clone()),
            ("{paused}", self.paused.clone()),
            ("{leaders}", self.leaders.clone()),
            ("{prefix}", self.prefix.clone()),
            (
                "{schema}",
                self.schema
                    .as_ref()
                    .map_or_else(String::new, |s| format!("{q}{s}{q}.")),
            ),
            ("{schema_name}", self.schema.clone().unwrap_or_default()),
            ("{channel}", self.channel.clone()),
        ]
    }

    /// Fills the names in braces into a query or migration template.
    pub(crate) fn render(&self, dialect: &Dialect, template: &str) -> String {
        self.vars(dialect)
            .iter()
            .fold(template.to_owned(), |sql, (var, text)| {
                sql.replace(var, text)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert!(SqlOptions::new().validate().is_ok());
        assert!(SqlOptions::new().table_prefix("").validate().is_ok());
        for bad in ["a-b", "x\"y", "1abc", "a b", &"p".repeat(41)] {
            assert!(
                SqlOptions::new().table_prefix(bad).validate().is_err(),
                "{bad}"
            );
        }
        assert!(SqlOptions::new().schema("").validate().is_err());
        assert!(SqlOptions::new().schema("a;drop").validate().is_err());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn long_channels_are_hashed() {
        use crate::engine::Driver;
        let pg = &sqlx::Postgres::DIALECT;
        let options = SqlOptions::new().schema("s".repeat(60)).table_prefix("p_");
        let tables = Tables::new(&options, pg);
        assert!(tables.channel.len() <= MAX_IDENTIFIER_LEN);
        assert_eq!(
            tables.channel,
            format!(
                "remote_{:016x}",
                fnv1a(format!("{}.p_jobs", "s".repeat(60)).as_bytes())
            )
        );
        assert_eq!(
            Tables::new(&SqlOptions::new(), pg).channel,
            "public.remote_jobs"
        );
        assert_eq!(
            Tables::new(&SqlOptions::new(), pg).jobs,
            "\"public\".\"remote_jobs\""
        );
    }
}
