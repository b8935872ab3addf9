//! DataLoaders: every nested field that can fan out loads through one of
//! these, so a page of risks costs a handful of statements, not one per row.
//! Each request gets its own set, scoped to the caller's organization.

use super::reference::{InReference, Reference, Referenced};
use super::registers::Register;
use crate::error::{AppError, AppResult};
use crate::store::{OrgScoped, positional};
use async_graphql::Lookahead;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::runtime::{TokioSpawner, TokioTimer};
use entity::{
    control, custom_field_definition, custom_field_value, member, register, risk, risk_control,
    severity,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// Rows of one table by id.
pub struct ById<E> {
    db: DatabaseConnection,
    org_id: String,
    entity: PhantomData<E>,
}

impl<E> Loader<String> for ById<E>
where
    E: OrgScoped + Send + Sync + 'static,
    E::Model: Send + Sync + 'static,
{
    /// Shared, not copied: the cache hands a value to every field that asks.
    type Value = Arc<E::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, AppError> {
        let rows = E::find()
            .filter(E::id_column().is_in(keys.iter().map(String::as_str)))
            .filter(E::org_column().eq(self.org_id.as_str()))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (E::id_of(&row).to_owned(), Arc::new(row)))
            .collect())
    }
}

/// Registers by id, with their scales parsed once for the request.
pub struct RegistersById(ById<register::Entity>);

impl Loader<String> for RegistersById {
    type Value = Register;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Register>, AppError> {
        self.0
            .load(keys)
            .await?
            .into_iter()
            .map(|(id, model)| Ok((id, Register::new(model)?)))
            .collect()
    }
}

/// One register, served from the process's kept copy while it is current:
/// a subscription checks its register when it starts, and thousands start
/// at once when dashboards reconnect.
pub async fn kept_register(
    db: &DatabaseConnection,
    org_id: &str,
    reference: &Arc<Reference>,
    id: &str,
) -> AppResult<Option<Register>> {
    let registers = Referenced::new(RegistersById(rows(db, org_id)), org_id, Some(reference));
    Ok(registers.load(&[id.to_owned()]).await?.remove(id))
}

/// Groups rows by key, with an entry (maybe empty) for every key asked for:
/// the cache then remembers "none" too, instead of asking again.
fn grouped<T>(
    keys: &[String],
    rows: impl IntoIterator<Item = (String, T)>,
) -> HashMap<String, Vec<T>> {
    let mut groups: HashMap<String, Vec<T>> =
        keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    for (key, row) in rows {
        groups.entry(key).or_default().push(row);
    }
    groups
}

/// The custom field values of each risk.
pub struct ValuesByRisk {
    db: DatabaseConnection,
    org_id: String,
}

impl Loader<String> for ValuesByRisk {
    type Value = Vec<Arc<custom_field_value::Model>>;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, AppError> {
        let rows = custom_field_value::Entity::find()
            .filter(custom_field_value::Column::RiskId.is_in(keys.iter().map(String::as_str)))
            .filter(custom_field_value::Column::OrgId.eq(self.org_id.as_str()));
        let rows = positional::all(rows, &self.db).await?;
        Ok(grouped(
            keys,
            rows.into_iter()
                .map(|row| (row.risk_id.clone(), Arc::new(row))),
        ))
    }
}

/// The custom field definitions of each register, in position order.
pub struct FieldsByRegister {
    db: DatabaseConnection,
    org_id: String,
}

impl Loader<String> for FieldsByRegister {
    type Value = Vec<Arc<custom_field_definition::Model>>;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, AppError> {
        use custom_field_definition::Column as C;
        let rows = custom_field_definition::Entity::find()
            .filter(C::RegisterId.is_in(keys.iter().map(String::as_str)))
            .filter(C::OrgId.eq(self.org_id.as_str()))
            .order_by_asc(C::Position)
            .order_by_asc(C::Name)
            .all(&self.db)
            .await?;
        Ok(grouped(
            keys,
            rows.into_iter()
                .map(|row| (row.register_id.clone(), Arc::new(row))),
        ))
    }
}

/// Cached for the request: the same member or register asked for at several
/// depths of one query is loaded once.
/// A risk's links with their controls, in one joined statement.
pub struct LinksByRisk {
    db: DatabaseConnection,
    org_id: String,
}

impl Loader<String> for LinksByRisk {
    type Value = Vec<(Arc<risk_control::Model>, Arc<control::Model>)>;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, AppError> {
        let rows = risk_control::Entity::find()
            .find_also_related(control::Entity)
            .filter(risk_control::Column::RiskId.is_in(keys.iter().map(String::as_str)))
            .filter(risk_control::Column::OrgId.eq(self.org_id.as_str()))
            .order_by_asc(risk_control::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let links = rows.into_iter().filter_map(|(link, control)| {
            Some((link.risk_id.clone(), (Arc::new(link), Arc::new(control?))))
        });
        Ok(grouped(keys, links))
    }
}

/// The links of each control.
pub struct LinksByControl {
    db: DatabaseConnection,
    org_id: String,
}

impl Loader<String> for LinksByControl {
    type Value = Vec<Arc<risk_control::Model>>;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, AppError> {
        let rows = risk_control::Entity::find()
            .filter(risk_control::Column::ControlId.is_in(keys.iter().map(String::as_str)))
            .filter(risk_control::Column::OrgId.eq(self.org_id.as_str()))
            .order_by_asc(risk_control::Column::CreatedAt)
            .all(&self.db)
            .await?;
        Ok(grouped(
            keys,
            rows.into_iter()
                .map(|link| (link.control_id.clone(), Arc::new(link))),
        ))
    }
}

/// Which relations the selection of a risk asks for.
pub struct Wants {
    pub register: bool,
    pub severity: bool,
    pub members: bool,
    pub values: bool,
    pub links: bool,
    pub value_fields: bool,
    pub value_users: bool,
}

impl Wants {
    /// Reads the selection under a `Risk`.
    pub fn of(risk: &Lookahead<'_>) -> Self {
        let any = |names: &[&str]| names.iter().any(|n| risk.field(n).exists());
        let values = risk.field("customFields");
        Self {
            register: any(&["register", "inherent", "residual", "targetResidual"]),
            severity: any(&["severity"]),
            members: any(&["owner", "createdBy", "updatedBy", "residualOverriddenBy"]),
            values: values.exists(),
            links: risk.field("controls").exists(),
            value_fields: values.field("field").exists(),
            value_users: values.field("user").exists(),
        }
    }
}

/// A DataLoader with what a page primed it with in front of it. The fields
/// under a page's risks look up what `LoaderSet::prefetch` loaded, some 250
/// times for a page of 50. Through DataLoader alone each lookup takes a
/// lock, builds two maps and copies the value out of its cache; here it is
/// one lookup in a map.
pub struct Primed<T: Loader<String>> {
    loader: DataLoader<T, HashMapCache>,
    /// Every key primed, with None for a key that has no row.
    primed: RwLock<HashMap<String, Option<T::Value>>>,
    /// False for subscriptions (see `Loaders::uncached`).
    cached: AtomicBool,
}

impl<T: Loader<String>> Primed<T> {
    fn new(inner: T) -> Self {
        Self {
            loader: DataLoader::with_cache(
                inner,
                TokioSpawner::current(),
                TokioTimer::default(),
                HashMapCache::default(),
            ),
            primed: RwLock::default(),
            cached: AtomicBool::new(true),
        }
    }

    /// The value of `key`. Every field that loads awaits this future inside
    /// its own, and the executor moves each field's future onto the heap:
    /// DataLoader's is some 1.4 KiB, so it is boxed on the path that needs
    /// it, and a primed key costs a future of a few words.
    pub async fn load_one(&self, key: String) -> Result<Option<T::Value>, T::Error> {
        match self.primed_value(&key) {
            Some(found) => Ok(found),
            None => Box::pin(self.loader.load_one(key)).await,
        }
    }

    /// Apart from `load_one`: the lock's guard may not live across an await.
    fn primed_value(&self, key: &str) -> Option<Option<T::Value>> {
        let primed = self.primed.read().unwrap_or_else(PoisonError::into_inner);
        primed.get(key).cloned()
    }

    pub async fn load_many(
        &self,
        keys: impl IntoIterator<Item = String>,
    ) -> Result<HashMap<String, T::Value>, T::Error> {
        self.loader.load_many(keys).await
    }

    /// Loads `keys` at once, without the batching delay (every key is known
    /// already), and keeps them for the fields under each risk.
    async fn prime(&self, keys: Vec<String>) -> Result<HashMap<String, T::Value>, T::Error> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let found = self.loader.loader().load(&keys).await?;
        if self.cached.load(Ordering::Relaxed) {
            let mut primed = self.primed.write().unwrap_or_else(PoisonError::into_inner);
            for key in keys {
                let value = found.get(&key).cloned();
                primed.insert(key, value);
            }
        }
        Ok(found)
    }

    fn disable_cache(&self) {
        self.cached.store(false, Ordering::Relaxed);
        self.loader.enable_all_cache(false);
    }
}

/// A request's loaders, made on first use: a subscription waiting for its
/// first event holds none (a full set is some 3 KiB, for each of thousands
/// of idle sockets).
pub struct Loaders {
    db: DatabaseConnection,
    org_id: String,
    /// None for subscriptions (see `uncached`).
    reference: Option<Arc<Reference>>,
    /// Boxed: the set is 1,440 bytes, and an operation that needs none of
    /// it (a subscription selecting only an event's own fields) would carry
    /// them for its whole life.
    made: OnceLock<Box<LoaderSet>>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection, org_id: &str, reference: &Arc<Reference>) -> Self {
        Self::with(db, org_id, Some(reference.clone()))
    }

    /// For subscriptions: every event reads the rows as they are now, with
    /// neither the request's cache nor the process's `Reference`.
    pub fn uncached(db: &DatabaseConnection, org_id: &str) -> Self {
        Self::with(db, org_id, None)
    }

    fn with(db: &DatabaseConnection, org_id: &str, reference: Option<Arc<Reference>>) -> Self {
        Self {
            db: db.clone(),
            org_id: org_id.to_owned(),
            reference,
            made: OnceLock::new(),
        }
    }
}

impl std::ops::Deref for Loaders {
    type Target = LoaderSet;

    fn deref(&self) -> &LoaderSet {
        self.made.get_or_init(|| {
            let set = LoaderSet::new(&self.db, &self.org_id, self.reference.as_ref());
            if self.reference.is_none() {
                set.disable_cache();
            }
            Box::new(set)
        })
    }
}

pub struct LoaderSet {
    pub members: Primed<Referenced<ById<member::Entity>>>,
    pub severities: Primed<Referenced<ById<severity::Entity>>>,
    pub registers: Primed<Referenced<RegistersById>>,
    pub fields: Primed<Referenced<ById<custom_field_definition::Entity>>>,
    pub values: Primed<ValuesByRisk>,
    pub fields_by_register: Primed<FieldsByRegister>,
    pub risks: Primed<ById<risk::Entity>>,
    pub controls: Primed<ById<control::Entity>>,
    pub links: Primed<LinksByRisk>,
    pub control_links: Primed<LinksByControl>,
}

fn rows<E>(db: &DatabaseConnection, org_id: &str) -> ById<E> {
    ById {
        db: db.clone(),
        org_id: org_id.to_owned(),
        entity: PhantomData,
    }
}

fn by_id<E>(db: &DatabaseConnection, org_id: &str) -> Primed<ById<E>>
where
    E: OrgScoped + Send + Sync + 'static,
    E::Model: Send + Sync + 'static,
{
    Primed::new(rows(db, org_id))
}

fn referenced<L: InReference>(
    inner: L,
    org_id: &str,
    reference: Option<&Arc<Reference>>,
) -> Primed<Referenced<L>> {
    Primed::new(Referenced::new(inner, org_id, reference))
}

impl LoaderSet {
    /// Loads, in one batch per table, what the selected fields of a page of
    /// risks refer to, so that each risk's nested fields are served from the
    /// cache however the executor interleaves them.
    pub async fn prefetch(&self, risks: &[&risk::Model], wants: &Wants) -> Result<(), AppError> {
        let ids = |f: &dyn Fn(&risk::Model) -> Vec<Option<String>>| -> Vec<String> {
            let mut ids: Vec<String> = risks.iter().flat_map(|r| f(r)).flatten().collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let pick = |wanted: bool, ids: Vec<String>| if wanted { ids } else { Vec::new() };
        let risk_ids = || risks.iter().map(|r| r.id.clone()).collect();
        // Round one: what the risks name directly, and their custom values.
        let (_, _, values, _) = futures_util::try_join!(
            self.registers.prime(pick(
                wants.register,
                ids(&|r| vec![Some(r.register_id.clone())])
            )),
            self.severities
                .prime(pick(wants.severity, ids(&|r| vec![r.severity_id.clone()]))),
            self.values.prime(pick(wants.values, risk_ids())),
            self.links.prime(pick(wants.links, risk_ids())),
        )?;
        // Round two: every member (owners and USER values alike) in one batch,
        // and the fields of the values.
        let values: Vec<&Arc<custom_field_value::Model>> = values.values().flatten().collect();
        let mut fields: Vec<String> = values.iter().map(|v| v.field_id.clone()).collect();
        fields.sort();
        fields.dedup();
        let mut members = pick(
            wants.members,
            ids(&|r| {
                vec![
                    r.owner_id.clone(),
                    r.created_by.clone(),
                    r.updated_by.clone(),
                    r.residual_overridden_by.clone(),
                ]
            }),
        );
        if wants.value_users {
            members.extend(values.iter().filter_map(|v| v.user_id.clone()));
            members.sort();
            members.dedup();
        }
        futures_util::try_join!(
            self.members.prime(members),
            self.fields.prime(pick(wants.value_fields, fields)),
        )?;
        Ok(())
    }

    fn disable_cache(&self) {
        self.members.disable_cache();
        self.severities.disable_cache();
        self.registers.disable_cache();
        self.fields.disable_cache();
        self.values.disable_cache();
        self.fields_by_register.disable_cache();
        self.risks.disable_cache();
        self.controls.disable_cache();
        self.links.disable_cache();
        self.control_links.disable_cache();
    }

    fn new(db: &DatabaseConnection, org_id: &str, reference: Option<&Arc<Reference>>) -> Self {
        Self {
            members: referenced(rows(db, org_id), org_id, reference),
            severities: referenced(rows(db, org_id), org_id, reference),
            registers: referenced(RegistersById(rows(db, org_id)), org_id, reference),
            fields: referenced(rows(db, org_id), org_id, reference),
            values: Primed::new(ValuesByRisk {
                db: db.clone(),
                org_id: org_id.to_owned(),
            }),
            fields_by_register: Primed::new(FieldsByRegister {
                db: db.clone(),
                org_id: org_id.to_owned(),
            }),
            risks: by_id(db, org_id),
            controls: by_id(db, org_id),
            links: Primed::new(LinksByRisk {
                db: db.clone(),
                org_id: org_id.to_owned(),
            }),
            control_links: Primed::new(LinksByControl {
                db: db.clone(),
                org_id: org_id.to_owned(),
            }),
        }
    }
}
