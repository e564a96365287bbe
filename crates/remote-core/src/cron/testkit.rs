//! Test helpers: fixed instants and a tiny deterministic pseudo-random generator.

use chrono::{DateTime, NaiveDate, Utc};

/// The UTC instant `y-mo-d h:mi:00`.
pub(crate) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, 0))
        .expect("valid test date")
        .and_utc()
}

/// SplitMix64: deterministic, dependency-free randomness for property tests.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish value in `min..=max`.
    pub(crate) fn range(&mut self, min: u32, max: u32) -> u32 {
        let width = u64::from(max - min) + 1;
        min + u32::try_from(self.next_u64() % width).expect("below width")
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u32) -> bool {
        self.range(0, 99) < percent
    }

    /// A few random values in `min..=max` (may repeat).
    pub(crate) fn values(&mut self, min: u32, max: u32, most: u32) -> Vec<u32> {
        let count = self.range(1, most);
        (0..count).map(|_| self.range(min, max)).collect()
    }
}
