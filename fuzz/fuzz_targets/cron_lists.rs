//! List-Cron validation and `next_after`, from JSON (as stored) and from raw values: never a
//! panic; a valid rule fires strictly after any instant well before the end of time; a
//! rejected one never fires.

#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use remote_core::CronLists;

fn values(bytes: &[u8], max: u32) -> Vec<u32> {
    bytes
        .iter()
        .map(|b| {
            if b & 0x80 != 0 {
                u32::from(*b) * 0x0101_0101
            } else {
                u32::from(*b) % (max + 2)
            }
        })
        .collect()
}

fn check(rule: &CronLists, after: DateTime<Utc>) {
    let next = rule.next_after(after);
    match rule.validate() {
        Ok(()) => {
            if after.timestamp() < 200_000_000_000 {
                let next = next
                    .unwrap_or_else(|| panic!("{rule:?} is valid but never fires after {after}"));
                assert!(next > after, "{rule:?}: {next} after {after}");
            }
        }
        Err(_) => assert_eq!(next, None, "{rule:?} is invalid but fires"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let seconds = i64::from(u32::from_le_bytes([
        rest.first().copied().unwrap_or(0),
        rest.get(1).copied().unwrap_or(0),
        rest.get(2).copied().unwrap_or(0),
        rest.get(3).copied().unwrap_or(0),
    ])) * 60;
    let after = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default();
    let body = rest.get(4..).unwrap_or_default();
    if head & 1 == 0 {
        if let Ok(rule) = serde_json::from_slice::<CronLists>(body) {
            check(&rule, after);
        }
        return;
    }
    let mut parts = body.splitn(5, |b| *b == 0xff);
    let mut next = |max| values(parts.next().unwrap_or_default(), max);
    let rule = CronLists {
        minute: next(59),
        hour: next(23),
        day_of_month: next(31),
        month: next(12),
        day_of_week: next(6),
    };
    check(&rule, after);
});
