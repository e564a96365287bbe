//! The scheduler side of the store contract, written once for every dialect.

use std::cmp::Reverse;

use async_trait::async_trait;
use remote_core::{ClaimItems, ItemId, Result, SchedulerItem, SchedulerStore, Take};

use crate::batch::Batch;
use crate::claim::{Claimable, Place};
use crate::engine::{Args, Param};
use crate::jobs::decode;
use crate::queries::Q;
use crate::row::{self, json_text, millis, Columns};
use crate::store::{count, SqlStore};

/// An item's JSON as text, which its statement arguments borrow.
struct ItemTexts {
    input: String,
    schedule: String,
    misfire: String,
}

impl ItemTexts {
    fn of(item: &SchedulerItem) -> Result<Self> {
        Ok(Self {
            input: json_text(&item.input)?,
            schedule: json_text(&row::schedule_json(item)?)?,
            misfire: json_text(&row::misfire_json(item)?)?,
        })
    }
}

/// Every column of an item, as `insert_item` and `update_item` take them.
fn item_args<'a>(item: &'a SchedulerItem, texts: &'a ItemTexts) -> Args<'a> {
    vec![
        ("id", Param::Text(item.id.as_str())),
        ("job_name", Param::Text(&item.job_name)),
        ("input", Param::Text(&texts.input)),
        ("active", Param::Bool(item.active)),
        ("next_call_time", Param::OptTime(item.next_call_time)),
        ("locked_until", Param::OptTime(item.locked_until)),
        ("lock_duration_ms", Param::Int(millis(item.lock_duration))),
        ("schedule", Param::Text(&texts.schedule)),
        ("misfire", Param::Text(&texts.misfire)),
    ]
}

impl Claimable for SchedulerItem {
    const STATEMENTS: [Q; 3] = [Q::claim_items, Q::pick_items, Q::claim_picked_items];
    const DECODE: fn(&dyn Columns) -> Result<Self> = row::item;
    /// Earliest `next_call_time` first, then id (R15).
    const PLACE: fn(&Self) -> Place<'_> = |i| (Reverse(0), i.next_call_time, i.id.as_str());
}

/// A take as `take_item(s)` takes it.
fn take_args(take: &Take) -> Args<'_> {
    vec![
        ("id", Param::Text(take.id.as_str())),
        (
            "expected_next_call_time",
            Param::Time(take.expected_next_call_time),
        ),
        (
            "expected_locked_until",
            Param::Time(take.expected_locked_until),
        ),
        ("next_call_time", Param::OptTime(take.next_call_time)),
        ("locked_until", Param::OptTime(take.locked_until)),
    ]
}

#[async_trait]
impl SchedulerStore for SqlStore {
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()> {
        let texts = ItemTexts::of(item)?;
        self.inner
            .run(Q::insert_item, &item_args(item, &texts))
            .await?;
        Ok(())
    }

    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>> {
        let rows = self.inner.rows_of(Q::get_item, id.as_str()).await?;
        rows.first().map(|r| row::item(r.as_ref())).transpose()
    }

    async fn list_items(&self) -> Result<Vec<SchedulerItem>> {
        decode(&self.inner.rows(Q::list_items, &[]).await?, row::item)
    }

    async fn update_item(&self, item: &SchedulerItem) -> Result<bool> {
        let texts = ItemTexts::of(item)?;
        Ok(self
            .inner
            .run(Q::update_item, &item_args(item, &texts))
            .await?
            > 0)
    }

    async fn delete_item(&self, id: &ItemId) -> Result<bool> {
        let args = [("id", Param::Text(id.as_str()))];
        Ok(self.inner.run(Q::delete_item, &args).await? > 0)
    }

    async fn claim_items(&self, claim: &ClaimItems) -> Result<Vec<SchedulerItem>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let args = vec![
            ("now", Param::Time(claim.now)),
            ("locked_until", Param::Time(claim.locked_until)),
            ("limit", Param::Int(count(claim.limit))),
        ];
        self.inner
            .claim(args, |item: &mut SchedulerItem| {
                item.locked_until = Some(claim.locked_until);
            })
            .await
    }

    async fn take_items(&self, takes: &[Take]) -> Result<Vec<bool>> {
        self.inner
            .apply(Batch {
                all: Q::take_items,
                pick: Q::pick_takes,
                each: Q::take_item,
                then: None,
                keys: takes.iter().map(|t| t.id.as_str()).collect(),
                entries: takes.iter().map(take_args).collect(),
                shared: Vec::new(),
                first_only: false,
            })
            .await
    }
}
