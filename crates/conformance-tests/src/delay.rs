//! Cases of the delay area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_delay {
    ($make:expr) => {
        $crate::__area!($make; delay {});
    };
}
