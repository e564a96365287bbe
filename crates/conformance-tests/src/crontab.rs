//! Cases of the crontab area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_crontab {
    ($make:expr) => {
        $crate::__area!($make; crontab {});
    };
}
