//! Cases of the cancel area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_cancel {
    ($make:expr) => {
        $crate::__area!($make; cancel {});
    };
}
