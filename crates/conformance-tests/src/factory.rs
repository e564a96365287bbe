//! How the suite opens a store: a [`StoreFactory`] per case, the [`Handles`] a case opens
//! through it, and [`SharedStore`] for stores where another handle is the same instance.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use remote_core::{JobStore, SchedulerStore, Store};

use crate::support::{Cleanup, TestStore};

/// Opens handles on the data of one case; a store's test file implements it once.
///
/// The suite makes one factory per case (the expression given to
/// [`conformance_suite!`](crate::conformance_suite) is evaluated once per case), opens a first
/// handle for the case, and lets the case open more: a second handle on the same data, as
/// another process would, or a new one after closing the first (the `durable` cases).
pub trait StoreFactory: Send + Sync + 'static {
    /// A handle on this case's data. The first call finds no data of an earlier case; every
    /// call opens a handle of its own on the same data (its own pool, connection or client),
    /// running whatever a store runs at open (migrations, indexes). Calls may overlap, the
    /// first ones included.
    fn open(&self) -> impl Future<Output = TestStore> + Send;

    /// Removes the case's data; run once after the case, passed or failed. The default does
    /// nothing.
    fn cleanup(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// [`StoreFactory`] with boxed futures, so [`Handles`] can hold any factory.
trait DynFactory: Send + Sync {
    fn open_boxed(&self) -> Pin<Box<dyn Future<Output = TestStore> + Send + '_>>;
    fn cleanup_boxed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl<F: StoreFactory> DynFactory for F {
    fn open_boxed(&self) -> Pin<Box<dyn Future<Output = TestStore> + Send + '_>> {
        Box::pin(self.open())
    }

    fn cleanup_boxed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.cleanup())
    }
}

/// The data of one case, on which the case opens handles.
#[derive(Clone)]
pub struct Handles {
    factory: Arc<dyn DynFactory>,
}

impl std::fmt::Debug for Handles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handles").finish_non_exhaustive()
    }
}

impl Handles {
    /// The handles of one case's data, opened through `factory`.
    pub fn new<F: StoreFactory>(factory: F) -> Self {
        Self {
            factory: Arc::new(factory),
        }
    }

    /// Opens a handle on the data.
    pub async fn open(&self) -> TestStore {
        self.factory.open_boxed().await.opened_by(self.clone())
    }

    /// Removes the data (after the case).
    pub(crate) async fn cleanup(&self) {
        self.factory.cleanup_boxed().await;
    }
}

/// What a case's factory expression may give: [`Handles`], or a [`TestStore`] from the
/// one-argument form of the macro, whose every handle is then that store.
pub trait IntoHandles {
    /// The handles of the case's data.
    fn into_handles(self) -> Handles;
}

impl IntoHandles for Handles {
    fn into_handles(self) -> Handles {
        self
    }
}

impl IntoHandles for TestStore {
    fn into_handles(self) -> Handles {
        Handles::new(SharedStore::from_test_store(self))
    }
}

/// What a case takes: a handle the runner opened ([`TestStore`]), or the [`Handles`] of its
/// data for cases that open every handle themselves.
pub trait CaseInput: Sized {
    /// Prepares the input from the case's data.
    fn prepare(handles: &Handles) -> impl Future<Output = Self>;
}

impl CaseInput for TestStore {
    async fn prepare(handles: &Handles) -> Self {
        handles.open().await
    }
}

impl CaseInput for Handles {
    async fn prepare(handles: &Handles) -> Self {
        handles.clone()
    }
}

/// A factory whose every handle is one shared store instance: for in-process stores such as
/// the memory store, where a second handle can only share the first one's state.
pub struct SharedStore {
    jobs: Arc<dyn JobStore>,
    items: Arc<dyn SchedulerStore>,
    cleanup: Mutex<Option<Cleanup>>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore").finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Every handle is `store`.
    pub fn new<S: Store>(store: S) -> Self {
        Self::from_test_store(TestStore::new(store))
    }

    /// Every handle is `store`'s store; its cleanup runs after the case.
    pub fn from_test_store(mut store: TestStore) -> Self {
        let cleanup = store.take_cleanup();
        Self {
            jobs: store.jobs.clone(),
            items: store.items.clone(),
            cleanup: Mutex::new(cleanup),
        }
    }
}

impl StoreFactory for SharedStore {
    async fn open(&self) -> TestStore {
        TestStore::from_parts(self.jobs.clone(), self.items.clone())
    }

    async fn cleanup(&self) {
        let cleanup = self
            .cleanup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(cleanup) = cleanup {
            cleanup.await;
        }
    }
}
