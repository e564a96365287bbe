//! Cases of the bad_input area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_bad_input {
    ($make:expr) => {
        $crate::__area!($make; bad_input {});
    };
}
