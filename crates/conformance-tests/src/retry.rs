//! Cases of the retry area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_retry {
    ($make:expr) => {
        $crate::__area!($make; retry {});
    };
}
