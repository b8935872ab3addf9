//! Controls and the links that let them reduce risks.

use super::ContextExt;
use super::risks::Risk;
use crate::domain::date::Timestamp;
use crate::domain::enums::{ControlHealth, MitigationTarget, Role};
use crate::domain::inputs::{CreateControlInput, UpdateControlInput};
use crate::error::{AppError, AppResult};
use crate::store::{self, controls::Linked};
use async_graphql::{Context, ID, Object};
use entity::{control, risk_control};
use std::sync::Arc;

pub struct Control(pub Arc<control::Model>);

impl From<control::Model> for Control {
    fn from(model: control::Model) -> Self {
        Self(Arc::new(model))
    }
}

/// Something the organization does that makes risks less likely or less
/// severe. Its health weights how much its links reduce.
#[Object]
impl Control {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// A reference such as C-12, unique in the organization; null when none was given.
    fn identifier(&self) -> Option<&str> {
        self.0.identifier.as_deref()
    }
    /// What the control is called.
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Free text; null when none.
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// HEALTHY counts in full, AT_RISK half, CRITICAL not at all.
    fn health(&self) -> AppResult<ControlHealth> {
        ControlHealth::from_stored(&self.0.health)
    }
    /// Default strength of new links, 0..1.
    fn effectiveness(&self) -> f64 {
        self.0.effectiveness
    }
    /// An archived control's links no longer reduce any risk.
    fn archived(&self) -> bool {
        self.0.archived
    }
    /// The risks this control is linked to.
    async fn risks(&self, ctx: &Context<'_>) -> AppResult<Vec<ControlLink>> {
        let links = ctx
            .loaders()?
            .control_links
            .load_one(self.0.id.clone())
            .await?;
        Ok(links
            .unwrap_or_default()
            .into_iter()
            .map(|link| ControlLink {
                link,
                control: self.0.clone(),
            })
            .collect())
    }
    /// Grows by one with every change; pass as expectedVersion to update safely.
    fn version(&self) -> i32 {
        self.0.version
    }
    /// When the control was created.
    fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the control last changed.
    fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

pub struct ControlLink {
    pub link: Arc<risk_control::Model>,
    pub control: Arc<control::Model>,
}

/// A control linked to a risk.
#[Object]
impl ControlLink {
    /// The control.
    fn control(&self) -> Control {
        Control(self.control.clone())
    }
    /// The risk it reduces.
    async fn risk(&self, ctx: &Context<'_>) -> AppResult<Risk> {
        let risk = ctx
            .loaders()?
            .risks
            .load_one(self.link.risk_id.clone())
            .await?;
        Ok(Risk(risk.ok_or_else(|| AppError::not_found("risk"))?))
    }
    /// Which side of the risk the control reduces.
    fn reduces(&self) -> AppResult<MitigationTarget> {
        MitigationTarget::from_stored(&self.link.reduces)
    }
    /// The strength in force: the link's own, or else its control's effectiveness.
    fn strength(&self) -> f64 {
        self.link.strength.unwrap_or(self.control.effectiveness)
    }
}

#[derive(Default)]
pub struct ControlQuery;

/// Reads. Every field sees the caller's organization only.
#[Object]
impl ControlQuery {
    /// The organization's controls, by name.
    async fn controls(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)", desc = "Also list archived controls.")]
        include_archived: Option<bool>,
    ) -> AppResult<Vec<Control>> {
        let actor = ctx.viewer()?;
        let list = store::controls::list(actor, include_archived.unwrap_or(false)).await?;
        Ok(list.into_iter().map(Control::from).collect())
    }

    /// A control by ID; null when it does not exist for the caller.
    async fn control(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The control's global ID.")] id: ID,
    ) -> AppResult<Option<Control>> {
        let actor = ctx.viewer()?;
        let found = store::find_optional::<control::Entity>(actor.db, actor.org_id(), &id).await?;
        Ok(found.map(Control::from))
    }
}

#[derive(Default)]
pub struct ControlMutation;

/// Changes. Each field is one transaction with its events: it applies
/// whole or not at all, and a failure answers null with an error.
#[Object]
impl ControlMutation {
    /// Adds a control to the organization. Editors and admins.
    async fn create_control(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new control.")] input: CreateControlInput,
    ) -> AppResult<Option<Control>> {
        let actor = ctx.actor(Role::Editor)?;
        Ok(Some(Control::from(
            store::controls::create(actor, input).await?,
        )))
    }

    /// Changes a control; a new health or effectiveness re-scores every
    /// linked risk in the same transaction.
    async fn update_control(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The control to change.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: UpdateControlInput,
        #[graphql(desc = "Refuse with CONFLICT unless the control is at this version.")]
        expected_version: Option<i32>,
    ) -> AppResult<Option<Control>> {
        let actor = ctx.actor(Role::Editor)?;
        Ok(Some(Control::from(
            store::controls::update(actor, &id, input, expected_version).await?,
        )))
    }

    /// Archives a control: its links stop reducing risks, which are re-scored in the same transaction.
    async fn archive_control(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The control to archive.")] id: ID,
    ) -> AppResult<Option<Control>> {
        let actor = ctx.actor(Role::Editor)?;
        Ok(Some(Control::from(
            store::controls::archive(actor, &id).await?,
        )))
    }

    /// Links a control to a risk (linking again updates the link). Without a
    /// strength the link follows the control's effectiveness.
    async fn link_control(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The risk the control reduces.")] risk_id: ID,
        #[graphql(desc = "The control.")] control_id: ID,
        #[graphql(
            default_with = "MitigationTarget::Both",
            desc = "Which side of the risk the link reduces; BOTH when not given."
        )]
        reduces: MitigationTarget,
        #[graphql(
            desc = "0..1: how much the link reduces at full health; null follows the control's effectiveness."
        )]
        strength: Option<f64>,
    ) -> AppResult<Option<ControlLink>> {
        let actor = ctx.actor(Role::Editor)?;
        let Linked { link, control } =
            store::controls::link(actor, (&risk_id, &control_id), reduces, strength).await?;
        Ok(Some(ControlLink {
            link: Arc::new(link),
            control: Arc::new(control),
        }))
    }

    /// Removes a link; false when there was none.
    async fn unlink_control(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The risk.")] risk_id: ID,
        #[graphql(desc = "The control to unlink from it.")] control_id: ID,
    ) -> AppResult<Option<bool>> {
        let actor = ctx.actor(Role::Editor)?;
        store::controls::unlink(actor, (&risk_id, &control_id))
            .await
            .map(Some)
    }
}
