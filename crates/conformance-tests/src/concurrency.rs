//! Cases of the concurrency area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_concurrency {
    ($make:expr) => {
        $crate::__area!($make; concurrency {});
    };
}
