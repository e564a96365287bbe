//! Cases of the leases area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_leases {
    ($make:expr) => {
        $crate::__area!($make; leases {});
    };
}
