//! The crontab parser and `next_after`: any text in any zone is parsed or rejected without
//! panicking, and a parsed rule's firings are strictly increasing instants.

#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use remote_core::Crontab;

const ZONES: [&str; 8] = [
    "",
    "UTC",
    "Europe/Zurich",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "Asia/Kolkata",
];

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let (seconds, text) = rest.split_at(rest.len().min(8));
    let mut raw = [0u8; 8];
    raw[..seconds.len()].copy_from_slice(seconds);
    let after = DateTime::<Utc>::from_timestamp(i64::from_le_bytes(raw) % 400_000_000_000, 0)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(text);
    let (expression, zone) = if head & 0x80 != 0 {
        match text.split_once('|') {
            Some((expression, zone)) => (expression.to_string(), zone.to_string()),
            None => (text.to_string(), String::new()),
        }
    } else {
        (
            text.to_string(),
            ZONES[usize::from(head) % ZONES.len()].to_string(),
        )
    };
    let Ok(rule) = Crontab::parse(&expression, &zone) else {
        return;
    };
    let mut t = after;
    for _ in 0..3 {
        match rule.next_after(t) {
            Some(next) => {
                assert!(next > t, "{expression:?} in {zone:?}: {next} after {t}");
                t = next;
            }
            None => break,
        }
    }
});
