//! The GraphQL schema: one file per feature, each with its types and its part
//! of the merged query and mutation roots. Resolvers stay thin: authorize,
//! call `store`, wrap the result.

pub mod answers;
pub mod api_keys;
pub mod controls;
pub mod custom_fields;
pub mod heatmaps;
pub mod history;
pub mod imports;
pub mod loaders;
pub mod members;
pub mod reference;
pub mod registers;
pub mod risks;
pub mod scores;
pub mod severities;
pub mod subscriptions;
pub mod viewer;

use crate::auth::Principal;
use crate::clock::Clock;
use crate::config::Limits;
use crate::domain::enums::Role;
use crate::domain::validation;
use crate::error::{AppError, AppResult};
use crate::feed::Feed;
use crate::store::Actor;
use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_container_serial};
use async_graphql::{
    Context, ContextSelectionSet, MergedObject, ObjectType, OutputType, Positioned, Schema,
    ServerResult, Value,
};
use loaders::Loaders;
use sea_orm::DatabaseConnection;
use std::borrow::Cow;
use std::sync::Arc;

/// Reads. Every field sees the caller's organization only.
#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    registers::RegisterQuery,
    severities::SeverityQuery,
    risks::RiskQuery,
    controls::ControlQuery,
    api_keys::ApiKeyQuery,
    members::MemberQuery,
);

/// Changes. Each field is one transaction with its events: it applies
/// whole or not at all, and a failure answers null with an error.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationFields(
    registers::RegisterMutation,
    severities::SeverityMutation,
    custom_fields::CustomFieldMutation,
    risks::RiskMutation,
    controls::ControlMutation,
    api_keys::ApiKeyMutation,
    members::MemberMutation,
    imports::ImportMutation,
);

/// The mutation root. Each of its fields reports its own error and answers
/// null: in `a: updateRisk(…) b: updateRisk(…)` a failing `b` must not hide
/// that `a` committed, and async-graphql would otherwise null all of `data`
/// for an error in any root field.
#[derive(Default)]
pub struct Mutation(MutationFields);

impl ContainerType for Mutation {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        match self.0.resolve_field(ctx).await {
            Err(err) => {
                ctx.add_error(err);
                Ok(Some(Value::Null))
            }
            answered => answered,
        }
    }
}

impl OutputType for Mutation {
    fn type_name() -> Cow<'static, str> {
        MutationFields::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        MutationFields::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container_serial(ctx, self).await
    }
}

impl ObjectType for Mutation {}

pub type RiskgraphSchema = Schema<Query, Mutation, subscriptions::SubscriptionRoot>;

/// What resolvers use of the running service. The schema holds it; the
/// principal and loaders are added to each request by the HTTP layer.
#[derive(Clone)]
pub struct Services {
    /// Writes.
    pub db: DatabaseConnection,
    /// Reads: on SQLite a pool of its own, beside the one writer.
    pub reader: DatabaseConnection,
    pub clock: Clock,
    pub feed: Arc<Feed>,
    pub limits: Arc<Limits>,
    /// What the process keeps of rows that change seldom.
    pub reference: Arc<reference::Reference>,
    /// What the process keeps of aggregates over many risks.
    pub answers: Arc<answers::Answers>,
}

fn builder(
    limits: &Limits,
) -> async_graphql::SchemaBuilder<Query, Mutation, subscriptions::SubscriptionRoot> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscriptions::SubscriptionRoot,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
}

/// The schema with its limits and the services its resolvers use.
pub fn schema(limits: &Limits, services: Services) -> RiskgraphSchema {
    builder(limits).data(services).finish()
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder(&Limits::default()).finish().sdl()
}

/// How many items a page asks for: `first`, or `default` when not given
/// (see `validation::page_size`).
pub fn page_size(ctx: &Context<'_>, first: Option<i32>, default: usize) -> AppResult<u64> {
    let max = ctx.services()?.limits.max_page_size;
    validation::page_size("first", first, default, max)
}

/// What resolvers read from the context, without `unwrap`s.
pub trait ContextExt {
    fn services(&self) -> AppResult<&Services>;
    fn principal(&self) -> AppResult<&Principal>;
    fn loaders(&self) -> AppResult<&Loaders>;
    /// The caller, if signed in with at least `role`, with the database and
    /// the time of the request: the one preamble of every resolver that
    /// reads or writes through `store`.
    fn actor(&self, role: Role) -> AppResult<Actor<'_>>;
    /// The caller, for a read: any role, on the read connections.
    fn viewer(&self) -> AppResult<Actor<'_>>;
}

impl ContextExt for Context<'_> {
    fn services(&self) -> AppResult<&Services> {
        self.data::<Services>()
            .map_err(|_| AppError::internal("schema built without services"))
    }

    fn principal(&self) -> AppResult<&Principal> {
        self.data::<Principal>()
            .map_err(|_| AppError::Unauthenticated("sign in with a bearer token".into()))
    }

    fn loaders(&self) -> AppResult<&Loaders> {
        self.data::<Loaders>()
            .map_err(|_| AppError::internal("request without loaders"))
    }

    fn actor(&self, role: Role) -> AppResult<Actor<'_>> {
        self.principal()?.require(role)?;
        acting(self, |services| &services.db)
    }

    fn viewer(&self) -> AppResult<Actor<'_>> {
        acting(self, |services| &services.reader)
    }
}

/// Runs a write to registers, severities or custom field definitions. Once
/// it has committed, what the process keeps of them (`reference::Reference`)
/// is stale, for the caller's next read as for everyone's.
pub async fn changing_reference<T>(
    ctx: &Context<'_>,
    write: impl Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let feed = &ctx.services()?.feed;
    let org = &ctx.principal()?.org_id;
    let written = write.await?;
    feed.reference_changed(Some(org));
    Ok(written)
}

/// The signed-in caller on the connections `on` picks, at the request's time.
fn acting<'a>(
    ctx: &'a Context<'_>,
    on: fn(&Services) -> &DatabaseConnection,
) -> AppResult<Actor<'a>> {
    let services = ctx.services()?;
    Ok(Actor {
        db: on(services),
        principal: ctx.principal()?,
        now: services.clock.now(),
    })
}
