//! Cases of the remove area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_remove {
    ($make:expr) => {
        $crate::__area!($make; remove {});
    };
}
