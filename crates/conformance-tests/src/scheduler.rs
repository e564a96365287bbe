//! Cases of the scheduler area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_scheduler {
    ($make:expr) => {
        $crate::__area!($make; scheduler {});
    };
}
