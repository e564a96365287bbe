//! Cases of the seed area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_seed {
    ($make:expr) => {
        $crate::__area!($make; seed {});
    };
}
