//! Unique jobs: a key derived from a job's input (or given) that makes jobs sharing it one
//! job while one of them has a status in a chosen set (R27).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::status::{JobStatus, StatusSet};

/// What a job's unique key is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UniqueBy {
    /// The given key.
    Key(String),
    /// The values of these top-level input fields (a missing field counts as `null`).
    Fields(Vec<String>),
    /// The whole input.
    Input,
}

/// How jobs are kept unique: by what key, across which statuses (R27).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unique {
    /// What the key is made of.
    pub by: UniqueBy,
    /// The statuses across which the key holds.
    pub across: StatusSet,
}

impl Unique {
    /// Unique by the given key, across queued and processing jobs.
    pub fn key(key: impl Into<String>) -> Self {
        Self {
            by: UniqueBy::Key(key.into()),
            across: StatusSet::LIVE,
        }
    }

    /// Unique by the values of these input fields, across queued and processing jobs.
    pub fn fields<I: IntoIterator<Item = S>, S: Into<String>>(fields: I) -> Self {
        Self {
            by: UniqueBy::Fields(fields.into_iter().map(Into::into).collect()),
            across: StatusSet::LIVE,
        }
    }

    /// Unique by the whole input, across queued and processing jobs.
    pub fn input() -> Self {
        Self {
            by: UniqueBy::Input,
            across: StatusSet::LIVE,
        }
    }

    /// Holds the key across these statuses instead. A set with `queued` also gets
    /// `processing`: a job that holds its key while queued holds it while it runs, so a retried
    /// attempt never meets a second holder of its key.
    pub fn across(mut self, statuses: StatusSet) -> Self {
        self.across = if statuses.contains(JobStatus::Queued) {
            StatusSet::from_bits(statuses.bits() | JobStatus::Processing.bit())
        } else {
            statuses
        };
        self
    }

    /// The key of a `job_name` job with `input`: the name, then the chosen values as JSON with
    /// sorted object keys, so equal inputs give equal keys on every build.
    pub fn key_for(&self, job_name: &str, input: &Value) -> String {
        let mut key = format!("{job_name}:");
        match &self.by {
            UniqueBy::Key(given) => return given.clone(),
            UniqueBy::Input => write_canonical(input, &mut key),
            UniqueBy::Fields(fields) => {
                let picked: Map<String, Value> = fields
                    .iter()
                    .map(|f| (f.clone(), input.get(f).cloned().unwrap_or(Value::Null)))
                    .collect();
                write_canonical(&Value::Object(picked), &mut key);
            }
        }
        key
    }
}

/// Writes `value` as compact JSON with every object's keys in sorted order, whatever order
/// serde_json's maps keep (its `preserve_order` feature is switched on by other crates in
/// some builds), so that processes built differently derive the same key.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_depend_on_the_chosen_values_only() {
        let by_user = Unique::fields(["user"]);
        let a = by_user.key_for("mail", &json!({"user": 7, "subject": "a"}));
        let b = by_user.key_for("mail", &json!({"subject": "b", "user": 7}));
        assert_eq!(a, b);
        assert_eq!(a, r#"mail:{"user":7}"#);
        assert_ne!(a, by_user.key_for("mail", &json!({"user": 8})));
        assert_ne!(a, by_user.key_for("sms", &json!({"user": 7})));
        assert_eq!(
            Unique::input().key_for("x", &json!({"b": 1, "a": [1, 2]})),
            r#"x:{"a":[1,2],"b":1}"#
        );
        assert_eq!(
            Unique::input().key_for("x", &json!({"z": {"y": 1, "x": "\"q"}, "a": null})),
            r#"x:{"a":null,"z":{"x":"\"q","y":1}}"#
        );
        assert_eq!(Unique::key("k").key_for("x", &json!(1)), "k");
        let queued_only = Unique::input().across(StatusSet::of(&[JobStatus::Queued]));
        assert_eq!(queued_only.across, StatusSet::LIVE);
        assert_eq!(
            Unique::fields(["missing"]).key_for("x", &json!({})),
            r#"x:{"missing":null}"#
        );
    }
}
