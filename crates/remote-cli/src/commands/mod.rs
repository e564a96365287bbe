//! Operator commands: one function per subcommand, over an opened store.

pub mod cron;
pub mod jobs;
pub mod schedule;

use remote_core::{FactoryInfo, Processor};

use crate::store::Stores;

/// What every operator command works with.
#[derive(Debug)]
pub struct Ctx {
    /// The opened store.
    pub stores: Stores,
    /// Print JSON instead of tables.
    pub json: bool,
    /// Job kinds this program knows (their names and defaults), for `add` and `schedule add`.
    pub factories: Vec<FactoryInfo>,
}

impl Ctx {
    /// A processor over the store that runs nothing; used for reads and writes.
    pub fn processor(&self) -> Processor {
        Processor::builder_with(self.stores.jobs.clone(), self.stores.items.clone()).build()
    }

    /// The known kind of this name.
    pub fn factory(&self, name: &str) -> Option<&FactoryInfo> {
        self.factories.iter().find(|f| f.name == name)
    }

    /// The known kind names, comma separated.
    pub fn known_names(&self) -> String {
        let names: Vec<&str> = self.factories.iter().map(|f| f.name.as_str()).collect();
        names.join(", ")
    }
}
