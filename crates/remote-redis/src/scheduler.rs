//! The scheduler side: items as hashes, due items in a sorted set by next call time.

use remote_core::__private::async_trait;
use remote_core::{ClaimItems, Error, ItemId, Result, SchedulerItem, SchedulerStore, Take};

use crate::codec::{self, millis, Args};
use crate::jobs::count_arg;
use crate::scripts::SCRIPTS;
use crate::store::RedisStore;

impl RedisStore {
    /// Inserts (`insert`) or replaces (`update`) an item; `false` when it exists on insert or
    /// is missing on update.
    async fn put_item(&self, mode: &str, item: &SchedulerItem) -> Result<bool> {
        let mut args: Args = vec![mode.into(), item.id.as_str().into()];
        for (name, value) in codec::item_fields(item)? {
            args.push(name.into());
            args.push(value);
        }
        let what = format!("storing scheduler item {}", item.id);
        let reply = self.eval(&SCRIPTS.put_item, args, &what).await?;
        Ok(codec::int(&reply, &what)? == 1)
    }
}

#[async_trait]
impl SchedulerStore for RedisStore {
    async fn insert_item(&self, item: &SchedulerItem) -> Result<()> {
        if self.put_item("insert", item).await? {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "scheduler item {} exists already",
                item.id
            )))
        }
    }

    async fn get_item(&self, id: &ItemId) -> Result<Option<SchedulerItem>> {
        let what = format!("reading scheduler item {id}");
        let reply = self
            .eval(&SCRIPTS.get_item, vec![id.as_str().into()], &what)
            .await?;
        codec::item(reply)
    }

    async fn list_items(&self) -> Result<Vec<SchedulerItem>> {
        let what = "listing scheduler items";
        let reply = self.eval(&SCRIPTS.list_items, Vec::new(), what).await?;
        codec::items(reply, what)
    }

    async fn update_item(&self, item: &SchedulerItem) -> Result<bool> {
        self.put_item("update", item).await
    }

    async fn delete_item(&self, id: &ItemId) -> Result<bool> {
        let what = format!("deleting scheduler item {id}");
        let reply = self
            .eval(&SCRIPTS.delete_item, vec![id.as_str().into()], &what)
            .await?;
        Ok(codec::int(&reply, &what)? == 1)
    }

    async fn claim_items(&self, claim: &ClaimItems) -> Result<Vec<SchedulerItem>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let args: Args = vec![
            millis(claim.now).into_bytes(),
            millis(claim.locked_until).into_bytes(),
            count_arg(u64::try_from(claim.limit).unwrap_or(u64::MAX)),
        ];
        let what = "claiming scheduler items";
        let reply = self.eval(&SCRIPTS.claim_items, args, what).await?;
        codec::items(reply, what)
    }

    async fn take_items(&self, takes: &[Take]) -> Result<Vec<bool>> {
        if takes.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Args = Vec::with_capacity(5 * takes.len());
        for take in takes {
            args.push(take.id.as_str().into());
            args.push(millis(take.expected_next_call_time).into_bytes());
            args.push(millis(take.expected_locked_until).into_bytes());
            args.push(
                take.next_call_time
                    .map(millis)
                    .unwrap_or_default()
                    .into_bytes(),
            );
            args.push(
                take.locked_until
                    .map(millis)
                    .unwrap_or_default()
                    .into_bytes(),
            );
        }
        let what = "taking scheduler items";
        let reply = self.eval(&SCRIPTS.take_items, args, what).await?;
        codec::flags(reply, takes.len(), what)
    }
}
