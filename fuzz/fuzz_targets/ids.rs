//! Id parsing from outside: any text is a typed error or an id that prints as 24 lowercase
//! hex digits and parses back to itself; serde agrees with `parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_core::{ItemId, JobId};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match JobId::parse(&text) {
        Ok(id) => {
            let printed = id.as_str();
            assert_eq!(printed.len(), 24);
            assert!(printed
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert_eq!(JobId::parse(printed).ok(), Some(id.clone()));
            assert_eq!(
                ItemId::parse(&text).map(|i| i.to_string()).ok(),
                Some(id.to_string())
            );
        }
        Err(e) => assert!(matches!(e, remote_core::Error::InvalidId { .. }), "{e:?}"),
    }
    let from_json = serde_json::from_slice::<JobId>(data);
    if let Ok(id) = from_json {
        assert_eq!(JobId::parse(id.as_str()).ok(), Some(id));
    }
});
