//! conformance-tests: SPEC.md (R1–R22) as one suite that every store runs.
//!
//! A store crate calls [`conformance_suite!`] once with an async factory producing an isolated,
//! empty [`TestStore`]; the macro expands to one `#[test]` per rule case, grouped by area.
//! The same list runs for every store, so every store runs the same number of cases.

#![warn(missing_docs)]

pub mod support;

pub mod arbitrary;

pub mod bad_input;
pub mod cancel;
pub mod concurrency;
pub mod cron_lists;
pub mod crontab;
pub mod delay;
pub mod jobs;
pub mod leases;
pub mod ordering;
pub mod remove;
pub mod retry;
pub mod scheduler;
pub mod seed;
pub mod workers;

pub use support::{run, Harness, TestStore};

/// Expands to the whole suite for a store, one module per area and one `#[test]` per case:
/// `conformance_suite!(|| async { TestStore::new(MyStore::new()) });`
///
/// The argument is a closure returning a future of [`TestStore`]; it is called once per test,
/// so each test gets its own empty store. Names from the calling module are visible to it.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::__cases_jobs!($make);
        $crate::__cases_retry!($make);
        $crate::__cases_cancel!($make);
        $crate::__cases_remove!($make);
        $crate::__cases_ordering!($make);
        $crate::__cases_concurrency!($make);
        $crate::__cases_leases!($make);
        $crate::__cases_workers!($make);
        $crate::__cases_seed!($make);
        $crate::__cases_scheduler!($make);
        $crate::__cases_delay!($make);
        $crate::__cases_cron_lists!($make);
        $crate::__cases_crontab!($make);
        $crate::__cases_bad_input!($make);
    };
}

/// Generates the test module of one area; used by the `__cases_<area>!` list in each area file.
#[doc(hidden)]
#[macro_export]
macro_rules! __area {
    ($make:expr; $area:ident { $($case:ident),* $(,)? }) => {
        mod $area {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $crate::run($make, $crate::$area::$case);
                }
            )*
        }
    };
}
