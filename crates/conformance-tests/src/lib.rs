//! conformance-tests: the behaviour contract of `remote` (`docs/contract.md`, rules R1–R35) as
//! tests that every store runs, your own included.
//!
//! One macro call in a store's test file, [`conformance_suite!`], expands to one `#[test]` per
//! case, in two layers:
//!
//! - `store::<method>::…` — the **store-contract layer** calls the
//!   [`JobStore`](remote_core::JobStore) and [`SchedulerStore`](remote_core::SchedulerStore)
//!   methods directly, one module per method (`store::claim_jobs`,
//!   `store::take_items`, …), plus `store::open`, `store::reopen` and the JSON round trip of
//!   `store::json`. A failure here names the method at fault.
//! - `processor::<area>::…` — the **processor layer** drives the same store through a
//!   [`Processor`](remote_core::Processor) with a manual clock, rule by rule (`processor::retry`,
//!   `processor::scheduler`, …), as an application would.
//!
//! Case names say the behaviour and start with the rule they check (`r2_…`, `r15_…`).
//!
//! A store opts in with a [`StoreFactory`]: it opens a handle on the data of one case, and
//! opens further handles on the same data, as other processes would; the suite uses them for
//! two handles claiming at once, racing schedulers and opening twice. Capabilities a store
//! declares add the cases that only apply to such stores (`durable`: data survives closing
//! and reopening; `wakeups`; `cross_process_wakeups`); a case a store's capabilities exclude
//! is not generated, so the test list shows what runs.
//!
//! ```no_run
//! use conformance_tests::{conformance_suite, StoreFactory, TestStore};
//! use remote_memory::MemoryStore;
//! use std::sync::Arc;
//!
//! /// Every handle of a case shares one memory store; a database-backed store would open a
//! /// new pool on the case's own database, schema or file instead.
//! struct Memory(Arc<MemoryStore>);
//!
//! impl StoreFactory for Memory {
//!     async fn open(&self) -> TestStore {
//!         TestStore::from_arc(self.0.clone())
//!     }
//! }
//!
//! conformance_suite!(
//!     factory: Memory(Arc::new(MemoryStore::new())),
//!     capabilities: [wakeups],
//! );
//! # fn main() {}
//! ```
//!
//! The crate's README lists the cases each capability adds and shows a factory for a store
//! backed by a database.

#![warn(missing_docs)]

pub mod calls;
pub mod factory;
pub mod support;

pub mod arbitrary;

pub mod store;

pub mod bad_input;
pub mod cancel;
pub mod concurrency;
pub mod cron_lists;
pub mod crontab;
pub mod delay;
pub mod doctest_scenarios;
pub mod features;
pub mod jobs;
pub mod leases;
pub mod misfire;
pub mod ordering;
pub mod pipeline;
pub mod remove;
pub mod retry;
pub mod scheduler;
pub mod workers;

pub use factory::{Handles, SharedStore, StoreFactory};
pub use support::{run, Harness, TestStore};

/// Expands to the whole suite for a store: one module per layer and per store method or rule
/// area, one `#[test]` per case.
///
/// With a factory (see [`StoreFactory`]) and the store's capabilities:
///
/// ```text
/// conformance_suite!(factory: MyFactory::new(), capabilities: [durable, wakeups]);
/// ```
///
/// The factory expression is evaluated once per case. The capabilities are any of `durable`
/// (data survives closing every handle and opening a new one), `wakeups`
/// ([`JobStore::wakeups`](remote_core::JobStore::wakeups) signals a job inserted through the
/// same handle) and `cross_process_wakeups` (also one inserted through another handle; needs
/// `wakeups`); the list may be empty or left out.
///
/// The one-argument form takes a closure returning a future of an isolated, empty
/// [`TestStore`]: `conformance_suite!(|| async { TestStore::new(MyStore::new()) })`. A case's
/// second handle is then its first one, shared, and the cases of every capability, and the
/// check that a store without `wakeups` answers `None`, are left out.
///
/// Names from the calling module are visible to the expressions.
#[macro_export]
macro_rules! conformance_suite {
    (factory: $factory:expr, capabilities: [$($capability:ident),* $(,)?] $(,)?) => {
        $($crate::__capability!($capability);)*
        $crate::__layers!(
            || async { $crate::Handles::new($factory) };
            [declared_capabilities $(, $capability)*]
        );
    };
    (factory: $factory:expr $(,)?) => {
        $crate::conformance_suite!(factory: $factory, capabilities: []);
    };
    ($make:expr) => {
        $crate::__layers!($make; []);
    };
}

/// The two layers, with the cases the capabilities add.
#[doc(hidden)]
#[macro_export]
macro_rules! __layers {
    ($make:expr; [$($capability:ident),*]) => {
        mod store {
            #[allow(unused_imports)]
            use super::*;
            $crate::__store_layer!($make);
            $crate::__if_capability!(durable; [$($capability),*]; {
                $crate::__cases_reopen!($make);
            });
            $crate::__if_capability!(wakeups; [$($capability),*]; {
                $crate::__cases_wakeups!($make);
            } else {
                $crate::__if_capability!(declared_capabilities; [$($capability),*]; {
                    $crate::__cases_no_wakeups!($make);
                });
            });
            $crate::__if_capability!(cross_process_wakeups; [$($capability),*]; {
                $crate::__if_capability!(wakeups; [$($capability),*]; {} else {
                    compile_error!("the capability `cross_process_wakeups` needs `wakeups`");
                });
                $crate::__cases_cross_process_wakeups!($make);
            });
        }
        mod processor {
            #[allow(unused_imports)]
            use super::*;
            $crate::__processor_layer!($make);
        }
    };
}

/// The processor layer: one line per rule area.
#[doc(hidden)]
#[macro_export]
macro_rules! __processor_layer {
    ($make:expr) => {
        $crate::__cases_jobs!($make);
        $crate::__cases_retry!($make);
        $crate::__cases_cancel!($make);
        $crate::__cases_remove!($make);
        $crate::__cases_ordering!($make);
        $crate::__cases_concurrency!($make);
        $crate::__cases_leases!($make);
        $crate::__cases_workers!($make);
        $crate::__cases_pipeline!($make);
        $crate::__cases_features!($make);
        $crate::__cases_doctest_scenarios!($make);
        $crate::__cases_scheduler!($make);
        $crate::__cases_delay!($make);
        $crate::__cases_cron_lists!($make);
        $crate::__cases_crontab!($make);
        $crate::__cases_misfire!($make);
        $crate::__cases_bad_input!($make);
    };
}

/// Rejects a capability the suite does not know.
#[doc(hidden)]
#[macro_export]
macro_rules! __capability {
    (durable) => {};
    (wakeups) => {};
    (cross_process_wakeups) => {};
    ($other:ident) => {
        compile_error!(concat!(
            "unknown capability `",
            stringify!($other),
            "`; the suite knows durable, wakeups and cross_process_wakeups"
        ));
    };
}

/// Expands the first block when the capability is in the list, else the `else` block. The
/// factory form adds `declared_capabilities` to the list: only a store that declared its
/// capabilities runs the cases that check one is absent.
#[doc(hidden)]
#[macro_export]
macro_rules! __if_capability {
    (durable; [durable $(, $rest:ident)*]; {$($then:tt)*} $(else {$($else:tt)*})?) => {
        $($then)*
    };
    (wakeups; [wakeups $(, $rest:ident)*]; {$($then:tt)*} $(else {$($else:tt)*})?) => {
        $($then)*
    };
    (cross_process_wakeups; [cross_process_wakeups $(, $rest:ident)*];
        {$($then:tt)*} $(else {$($else:tt)*})?) => {
        $($then)*
    };
    (declared_capabilities; [declared_capabilities $(, $rest:ident)*];
        {$($then:tt)*} $(else {$($else:tt)*})?) => {
        $($then)*
    };
    ($wanted:ident; [$other:ident $(, $rest:ident)*]; $($branches:tt)*) => {
        $crate::__if_capability!($wanted; [$($rest),*]; $($branches)*);
    };
    ($wanted:ident; []; {$($then:tt)*} $(else {$($else:tt)*})?) => {
        $($($else)*)?
    };
}

/// Generates the test module of one area; used by the `__cases_<area>!` list in each area file.
/// `layer::area` names a module of a layer (`store::claim_jobs`), a bare `area` a module at the
/// crate root.
#[doc(hidden)]
#[macro_export]
macro_rules! __area {
    ($make:expr; $layer:ident :: $area:ident { $($case:ident),* $(,)? }) => {
        mod $area {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $crate::run($make, $crate::$layer::$area::$case);
                }
            )*
        }
    };
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
