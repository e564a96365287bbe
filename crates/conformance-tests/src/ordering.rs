//! Cases of the ordering area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_ordering {
    ($make:expr) => {
        $crate::__area!($make; ordering {});
    };
}
