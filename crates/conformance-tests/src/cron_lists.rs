//! Cases of the cron_lists area.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_cron_lists {
    ($make:expr) => {
        $crate::__area!($make; cron_lists {});
    };
}
