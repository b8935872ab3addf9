//! Members, registers, severities and custom field definitions kept across
//! requests: nearly every page names them, and they change seldom (a page
//! of 50 risks sends 3 statements instead of 7).
//!
//! A copy serves only while the feed's reference generation is the one its
//! read began in (`Feed::reference_changed`): a change, here or on another
//! instance, makes every copy stale at once, and a read that raced a change
//! is never served again. Subscriptions read what their events name without
//! it, as they do without a request's cache: only the register a
//! subscription names is read through it, when it starts and, for a live
//! heatmap, each time the map is drawn.

use super::loaders::{ById, RegistersById};
use super::registers::Register;
use crate::error::AppError;
use crate::feed::Feed;
use async_graphql::dataloader::Loader;
use entity::{custom_field_definition, member, severity};
use std::collections::HashMap;
use std::sync::Arc;

/// The kept rows, by kind.
pub struct Reference {
    feed: Arc<Feed>,
    members: Kept<Arc<member::Model>>,
    registers: Kept<Register>,
    severities: Kept<Arc<severity::Model>>,
    fields: Kept<Arc<custom_field_definition::Model>>,
}

/// Copies by id.
pub type Kept<V> = quick_cache::sync::Cache<String, Arc<Entry<V>>>;

/// A copy, with the organization it belongs to and the reference generation
/// its read began in.
pub struct Entry<V> {
    generation: u64,
    org_id: String,
    value: V,
}

/// Rows kept of each kind, at most; the least used make room.
const REFERENCE_HELD: usize = 10_000;

impl Reference {
    pub fn new(feed: Arc<Feed>) -> Self {
        Self {
            feed,
            members: Kept::new(REFERENCE_HELD),
            registers: Kept::new(REFERENCE_HELD),
            severities: Kept::new(REFERENCE_HELD),
            fields: Kept::new(REFERENCE_HELD),
        }
    }
}

/// A loader whose rows `Reference` keeps, and where.
pub trait InReference: Loader<String, Error = AppError> {
    fn kept(reference: &Reference) -> &Kept<Self::Value>;
}

impl InReference for RegistersById {
    fn kept(reference: &Reference) -> &Kept<Register> {
        &reference.registers
    }
}

impl InReference for ById<member::Entity> {
    fn kept(reference: &Reference) -> &Kept<Arc<member::Model>> {
        &reference.members
    }
}

impl InReference for ById<severity::Entity> {
    fn kept(reference: &Reference) -> &Kept<Arc<severity::Model>> {
        &reference.severities
    }
}

impl InReference for ById<custom_field_definition::Entity> {
    fn kept(reference: &Reference) -> &Kept<Arc<custom_field_definition::Model>> {
        &reference.fields
    }
}

/// `L` through the process's `Reference`: what it keeps current is served
/// from there, the rest read and kept.
pub struct Referenced<L> {
    inner: L,
    org_id: String,
    /// None: straight to `inner` (subscriptions).
    reference: Option<Arc<Reference>>,
}

impl<L> Referenced<L> {
    pub fn new(inner: L, org_id: &str, reference: Option<&Arc<Reference>>) -> Self {
        Self {
            inner,
            org_id: org_id.to_owned(),
            reference: reference.cloned(),
        }
    }
}

impl<L: InReference> Loader<String> for Referenced<L> {
    type Value = L::Value;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, L::Value>, AppError> {
        let Some(reference) = &self.reference else {
            return self.inner.load(keys).await;
        };
        let kept = L::kept(reference);
        // Taken before the read: a change committed meanwhile moves it, and
        // then what is read now is not served again.
        let generation = reference.feed.reference_generation(&self.org_id);
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        for key in keys {
            match kept.get(key.as_str()) {
                Some(copy) if copy.generation == generation && copy.org_id == self.org_id => {
                    found.insert(key.clone(), copy.value.clone());
                }
                _ => missing.push(key.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read = self.inner.load(&missing).await?;
        for (key, value) in &read {
            let copy = Entry {
                generation,
                org_id: self.org_id.clone(),
                value: value.clone(),
            };
            kept.insert(key.clone(), Arc::new(copy));
        }
        found.extend(read);
        Ok(found)
    }
}
