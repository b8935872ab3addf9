//! Who is asking (`viewer`), organizations and members, and `node(id)`.

use super::ContextExt;
use super::controls::Control;
use super::custom_fields::CustomFieldDefinition;
use super::registers::Register;
use super::risks::Risk;
use super::severities::Severity;
use crate::domain::date::Timestamp;
use crate::domain::enums::Role;
use crate::domain::identifiers::{Kind, kind_of};
use crate::error::{AppError, AppResult};
use crate::store::{self, find};
use async_graphql::{Context, ID, Interface, Object};
use entity::{control, custom_field_definition, member, organization, register, risk, severity};
use std::sync::Arc;

/// An object with a global ID; `node(id)` finds any of them.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Global ID: pass to `node(id)` to read the object again."
))]
pub enum Node {
    Organization(Organization),
    Member(Member),
    Register(Register),
    Risk(Risk),
    Severity(Severity),
    CustomFieldDefinition(CustomFieldDefinition),
    Control(Control),
}

pub struct Organization(pub organization::Model);

/// A tenant: everything in riskgraph belongs to exactly one organization.
#[Object]
impl Organization {
    /// Global ID: the token's `org` claim.
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The organization's name.
    fn name(&self) -> &str {
        &self.0.name
    }
    /// When its first member signed in.
    fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
}

pub struct Member(pub Arc<member::Model>);

impl From<member::Model> for Member {
    fn from(model: member::Model) -> Self {
        Self(Arc::new(model))
    }
}

/// A person of the organization, known from the claims of their tokens (or
/// added by an admin before their first sign-in).
#[Object]
impl Member {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// From the token's `email` claim; null when it had none.
    fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// From the token's `name` claim; null when it had none.
    fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The role of the member's latest token.
    fn role(&self) -> AppResult<Role> {
        Role::from_stored(&self.0.role)
    }
    /// When the member was added or first signed in.
    fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
}

/// A member loaded by id through the request's loader.
pub async fn member(ctx: &Context<'_>, id: Option<&String>) -> AppResult<Option<Member>> {
    match id {
        Some(id) => Ok(ctx
            .loaders()?
            .members
            .load_one(id.clone())
            .await?
            .map(Member)),
        None => Ok(None),
    }
}

pub struct Viewer;

/// The caller: their member record, organization and role.
#[Object]
impl Viewer {
    /// The caller's member record.
    async fn member(&self, ctx: &Context<'_>) -> AppResult<Member> {
        let principal = ctx.principal()?;
        member(ctx, Some(&principal.member_id))
            .await?
            .ok_or_else(|| AppError::not_found("member"))
    }
    /// The caller's organization.
    async fn organization(&self, ctx: &Context<'_>) -> AppResult<Organization> {
        let org = store::members::organization(ctx.viewer()?).await?;
        Ok(Organization(org))
    }
    /// What the caller's token allows.
    async fn role(&self, ctx: &Context<'_>) -> AppResult<Role> {
        Ok(ctx.principal()?.role)
    }
}

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The caller.
    async fn viewer(&self, ctx: &Context<'_>) -> AppResult<Viewer> {
        ctx.principal()?;
        Ok(Viewer)
    }

    /// Any object by its global ID; null when it does not exist for the caller.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID from any object's `id`.")] id: ID,
    ) -> AppResult<Option<Node>> {
        let actor = ctx.viewer()?;
        let (db, org) = (actor.db, actor.org_id());
        let found = match kind_of(&id) {
            Some(Kind::Organization) if id.as_str() == org => Ok(Node::Organization(Organization(
                store::members::organization(actor).await?,
            ))),
            Some(Kind::Member) => find::<member::Entity>(db, org, &id)
                .await
                .map(|m| Node::Member(Member::from(m))),
            Some(Kind::Register) => find::<register::Entity>(db, org, &id)
                .await
                .and_then(Register::new)
                .map(Node::Register),
            Some(Kind::Risk) => find::<risk::Entity>(db, org, &id)
                .await
                .map(|r| Node::Risk(Risk::from(r))),
            Some(Kind::Severity) => find::<severity::Entity>(db, org, &id)
                .await
                .map(|s| Node::Severity(Severity::from(s))),
            Some(Kind::CustomField) => find::<custom_field_definition::Entity>(db, org, &id)
                .await
                .map(|f| Node::CustomFieldDefinition(CustomFieldDefinition::from(f))),
            Some(Kind::Control) => find::<control::Entity>(db, org, &id)
                .await
                .map(|c| Node::Control(Control::from(c))),
            _ => return Ok(None),
        };
        match found {
            Ok(node) => Ok(Some(node)),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }
}
