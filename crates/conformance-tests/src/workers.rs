//! Cases of the workers area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_workers {
    ($make:expr) => {
        $crate::__area!($make; workers {});
    };
}
