//! The store's statements: the SQL files `queries/<dialect>/<name>.sql` (or, for statements
//! every dialect writes alike, `queries/shared/<name>.sql`), embedded at build time, with the
//! store's table names filled in and their named parameters (`:now`) turned into the
//! dialect's placeholders once, when the store opens.

use remote_core::{Error, Result};

use crate::config::Tables;
use crate::dialect::{Dialect, Placeholders};
use crate::engine::Param;

include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

macro_rules! statements {
    ($($name:ident),* $(,)?) => {
        /// A statement of the store, named as its file is.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Q {
            $($name),*
        }

        impl Q {
            /// Every statement, in declaration order.
            pub(crate) const ALL: &'static [Q] = &[$(Q::$name),*];

            /// The statement's file name without `.sql`.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Q::$name => stringify!($name)),*
                }
            }
        }
    };
}

statements!(
    // Adding jobs: the stored ids and key holders that may keep them out, then one statement.
    job_conflicts,
    insert_jobs,
    // Claims: one UPDATE … RETURNING, or pick (lock) then claim the picked rows.
    claim_jobs,
    pick_jobs,
    claim_picked_jobs,
    // Ending, releasing and renewing attempts: arrays or rows (after a locking read where a
    // statement returns no rows), or one statement per entry.
    pick_outcomes,
    pick_leases,
    record_outcomes,
    record_outcome,
    add_error,
    add_errors,
    release_jobs,
    release_job,
    renew_leases,
    renew_lease,
    expired_leases,
    // One job.
    job_status,
    cancel_job,
    get_job,
    job_errors,
    // Many jobs.
    list_jobs_newest,
    list_jobs_oldest,
    count_jobs,
    removable_jobs,
    removable_jobs_before,
    remove_errors,
    remove_jobs,
    vacuum_jobs,
    retryable_jobs,
    retry_picked_jobs,
    // Paused names and maintenance leases.
    pause_names,
    resume_names,
    paused_names,
    lock_leader,
    insert_leader,
    update_leader,
    leaders,
    // Scheduler items.
    insert_item,
    get_item,
    list_items,
    update_item,
    delete_item,
    claim_items,
    pick_items,
    claim_picked_items,
    pick_takes,
    take_items,
    take_item,
    // Migrations, and dropping what they created.
    migrations_table,
    lock_migrations,
    unlock_migrations,
    drop_tables,
    applied_migrations,
    record_migration,
);

/// One statement as the store sends it.
#[derive(Clone, Debug)]
pub(crate) struct Statement {
    /// The SQL, with table names and placeholders.
    pub sql: String,
    /// The parameter names in bind order.
    pub binds: Vec<String>,
    /// Whether it may change the database: every statement but a `SELECT`. Where the
    /// database has one writer, the store's writers queue for their turn.
    pub writes: bool,
}

impl Statement {
    /// Compiles a template: table names filled in, `-- comments` dropped, `:name` parameters
    /// (outside quotes; `::type` casts left alone) replaced by the dialect's placeholders.
    pub(crate) fn compile(template: &str, tables: &Tables, dialect: &Dialect) -> Self {
        let text = tables.render(dialect, template);
        let mut sql = String::with_capacity(text.len());
        let mut binds: Vec<String> = Vec::new();
        let mut chars = text.chars().peekable();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            if let Some(q) = quote {
                sql.push(c);
                if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    sql.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for skipped in chars.by_ref() {
                        if skipped == '\n' {
                            sql.push('\n');
                            break;
                        }
                    }
                }
                ':' if chars.peek() == Some(&':') => {
                    chars.next();
                    sql.push_str("::");
                }
                ':' if chars.peek().is_some_and(|n| n.is_ascii_lowercase()) => {
                    let mut name = String::new();
                    while let Some(&n) = chars.peek() {
                        if !(n.is_ascii_alphanumeric() || n == '_') {
                            break;
                        }
                        name.push(n);
                        chars.next();
                    }
                    match dialect.placeholders {
                        Placeholders::Positional => {
                            sql.push('?');
                            binds.push(name);
                        }
                        Placeholders::Numbered => {
                            let n = match binds.iter().position(|b| *b == name) {
                                Some(i) => i + 1,
                                None => {
                                    binds.push(name);
                                    binds.len()
                                }
                            };
                            sql.push_str(&format!("${n}"));
                        }
                    }
                }
                _ => sql.push(c),
            }
        }
        let sql = sql
            .lines()
            .map(str::trim_end)
            .filter(|line| !line.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let writes = !reads_only(&sql);
        Self { sql, binds, writes }
    }

    /// The parameters in bind order, picked by name from `args`.
    pub(crate) fn params<'p, 'a>(
        &self,
        args: &'p [(&str, Param<'a>)],
    ) -> Result<Vec<&'p Param<'a>>> {
        self.binds
            .iter()
            .map(|name| {
                args.iter()
                    .find(|(given, _)| given == name)
                    .map(|(_, param)| param)
                    .ok_or_else(|| {
                        Error::store_msg(format!("no value for the statement parameter :{name}"))
                    })
            })
            .collect()
    }
}

/// Whether statement `sql` only reads: its first word, after comment lines, is `SELECT`.
fn reads_only(sql: &str) -> bool {
    sql.lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty() && !line.starts_with("--"))
        .and_then(|line| line.split_whitespace().next())
        .is_some_and(|word| word.eq_ignore_ascii_case("SELECT"))
}

/// A dialect's statements for one store.
#[derive(Debug)]
pub(crate) struct Queries {
    dialect: &'static Dialect,
    statements: Vec<Option<Statement>>,
}

impl Queries {
    /// The dialect's query files, compiled for `tables`; a dialect lacking a statement its
    /// control flow needs is an error.
    pub(crate) fn new(dialect: &'static Dialect, tables: &Tables) -> Result<Self> {
        let own = files(QUERIES, dialect.dir);
        let shared = files(QUERIES, SHARED);
        let statements = Q::ALL
            .iter()
            .map(|q| {
                own.iter()
                    .chain(shared)
                    .find(|(name, _)| *name == q.name())
                    .map(|(_, text)| Statement::compile(text, tables, dialect))
            })
            .collect();
        let queries = Self {
            dialect,
            statements,
        };
        for q in needed(dialect) {
            queries.get(q)?;
        }
        Ok(queries)
    }

    /// The statement `q`; a dialect without it is a store error.
    pub(crate) fn get(&self, q: Q) -> Result<&Statement> {
        self.find(q).ok_or_else(|| {
            Error::store_msg(format!(
                "the {} dialect has no statement {}",
                self.dialect.name,
                q.name()
            ))
        })
    }

    /// The SQL of statement `q` and its parameters, in bind order, from `args`.
    pub(crate) fn prepare<'p, 'a>(
        &self,
        q: Q,
        args: &'p [(&str, Param<'a>)],
    ) -> Result<(&Statement, Vec<&'p Param<'a>>)> {
        let statement = self.get(q)?;
        Ok((statement, statement.params(args)?))
    }

    /// The statement `q`, if the dialect has it.
    pub(crate) fn find(&self, q: Q) -> Option<&Statement> {
        self.statements[q as usize].as_ref()
    }

    /// The statement named `name`, if the dialect has it.
    pub(crate) fn named(&self, name: &str) -> Option<&Statement> {
        Q::ALL
            .iter()
            .find(|q| q.name() == name)
            .and_then(|q| self.find(*q))
    }
}

/// The folder of the statements every dialect writes alike.
const SHARED: &str = "shared";

/// The statements the control flow of `dialect` runs.
pub(crate) fn needed(dialect: &Dialect) -> Vec<Q> {
    use crate::dialect::{Batches, Claims};
    let mut needed = vec![
        Q::job_conflicts,
        Q::insert_jobs,
        Q::expired_leases,
        Q::job_status,
        Q::cancel_job,
        Q::get_job,
        Q::job_errors,
        Q::list_jobs_newest,
        Q::list_jobs_oldest,
        Q::count_jobs,
        Q::removable_jobs,
        Q::removable_jobs_before,
        Q::remove_errors,
        Q::remove_jobs,
        Q::retryable_jobs,
        Q::retry_picked_jobs,
        Q::pause_names,
        Q::resume_names,
        Q::paused_names,
        Q::lock_leader,
        Q::insert_leader,
        Q::update_leader,
        Q::leaders,
        Q::insert_item,
        Q::get_item,
        Q::list_items,
        Q::update_item,
        Q::delete_item,
        Q::migrations_table,
        Q::applied_migrations,
        Q::record_migration,
        Q::drop_tables,
    ];
    needed.extend(match dialect.batches {
        Batches::OneStatement => [
            Q::record_outcomes,
            Q::release_jobs,
            Q::renew_leases,
            Q::take_items,
        ]
        .as_slice(),
        Batches::Rows => &[
            Q::record_outcomes,
            Q::add_errors,
            Q::release_jobs,
            Q::renew_leases,
            Q::take_items,
        ],
        Batches::LockThenRows => &[
            Q::pick_outcomes,
            Q::record_outcomes,
            Q::add_errors,
            Q::pick_leases,
            Q::release_job,
            Q::renew_leases,
            Q::pick_takes,
            Q::take_items,
        ],
        Batches::Transaction => &[
            Q::record_outcome,
            Q::add_error,
            Q::release_job,
            Q::renew_lease,
            Q::take_item,
        ],
    });
    if dialect.vacuums {
        needed.push(Q::vacuum_jobs);
    }
    needed.extend(match dialect.claims {
        Claims::Returning => [Q::claim_jobs, Q::claim_items].as_slice(),
        Claims::LockThenUpdate => &[
            Q::pick_jobs,
            Q::claim_picked_jobs,
            Q::pick_items,
            Q::claim_picked_items,
        ],
    });
    needed
}

/// The embedded files of `dir` in `set`, in name order.
pub(crate) fn files(
    set: &'static [(&str, &[(&str, &str)])],
    dir: &str,
) -> &'static [(&'static str, &'static str)] {
    set.iter()
        .find(|(name, _)| *name == dir)
        .map_or(&[], |(_, files)| files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqlOptions;

    const NUMBERED: Dialect = Dialect::new("test", "none").with_schemas();
    const POSITIONAL: Dialect = Dialect::new("test", "none")
        .quoted('`')
        .placeholders(Placeholders::Positional);

    const TEMPLATE: &str = "-- :ignored in a comment\n\
        SELECT :a::json, ':b', \"c:d\" FROM {jobs} -- trailing :e\n\
        WHERE x = :a AND y = :b_2 AND z = :f";

    #[test]
    fn only_a_statement_starting_with_select_reads_only() {
        assert!(reads_only("SELECT id FROM jobs"));
        assert!(reads_only("-- the jobs\n  select id\nFROM jobs"));
        assert!(!reads_only("UPDATE jobs SET status = 'queued'"));
        assert!(!reads_only("-- SELECT in a comment\nDELETE FROM jobs"));
        assert!(!reads_only("INSERT INTO jobs SELECT * FROM old_jobs"));
        // A read behind a CTE or EXPLAIN waits its turn as a write: slower, never unsafe.
        assert!(!reads_only("WITH due AS (SELECT 1) SELECT * FROM due"));
        assert!(!reads_only(""));
    }

    #[test]
    fn a_compiled_statement_knows_whether_it_writes() {
        let tables = Tables::new(&SqlOptions::default(), &NUMBERED);
        assert!(!Statement::compile(TEMPLATE, &tables, &NUMBERED).writes);
        let update = "-- SELECT in a comment\nUPDATE {jobs} SET status = :status";
        assert!(Statement::compile(update, &tables, &NUMBERED).writes);
    }

    #[test]
    fn named_parameters_become_the_dialects_placeholders() {
        let options = SqlOptions::new().schema("s").table_prefix("p_");
        let pg = Statement::compile(TEMPLATE, &Tables::new(&options, &NUMBERED), &NUMBERED);
        assert_eq!(
            pg.sql,
            "SELECT $1::json, ':b', \"c:d\" FROM \"s\".\"p_jobs\"\nWHERE x = $1 AND y = $2 AND z = $3"
        );
        assert_eq!(pg.binds, ["a", "b_2", "f"]);
        let my = Statement::compile(TEMPLATE, &Tables::new(&options, &POSITIONAL), &POSITIONAL);
        assert_eq!(
            my.sql,
            "SELECT ?::json, ':b', \"c:d\" FROM `p_jobs`\nWHERE x = ? AND y = ? AND z = ?"
        );
        assert_eq!(my.binds, ["a", "a", "b_2", "f"]);
        let args = [
            ("b_2", Param::Int(2)),
            ("a", Param::Int(1)),
            ("f", Param::Int(3)),
        ];
        let params = my.params(&args).unwrap();
        assert!(matches!(
            params[..],
            [Param::Int(1), Param::Int(1), Param::Int(2), Param::Int(3)]
        ));
        assert!(
            my.params(&args[..2]).is_err(),
            "a missing parameter is an error"
        );
    }

    #[test]
    fn every_dialect_has_the_statements_it_runs() {
        let options = SqlOptions::new();
        #[allow(unused_mut)]
        let mut dialects: Vec<&'static Dialect> = Vec::new();
        #[cfg(feature = "postgres")]
        dialects.push(&<sqlx::Postgres as crate::engine::Driver>::DIALECT);
        #[cfg(feature = "sqlite")]
        dialects.push(&<sqlx::Sqlite as crate::engine::Driver>::DIALECT);
        #[cfg(feature = "mysql")]
        dialects.push(&<sqlx::MySql as crate::engine::Driver>::DIALECT);
        for dialect in dialects {
            let queries = Queries::new(dialect, &Tables::new(&options, dialect));
            assert!(queries.is_ok(), "{}: {:?}", dialect.name, queries.err());
        }
    }

    #[test]
    fn every_query_file_names_a_statement() {
        for (dir, files) in QUERIES {
            for (name, _) in *files {
                assert!(
                    Q::ALL.iter().any(|q| q.name() == *name),
                    "queries/{dir}/{name}.sql is no statement of the store"
                );
            }
        }
    }
}
