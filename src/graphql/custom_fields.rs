//! Custom field definitions and the values risks hold in them.

use super::registers::Register;
use super::viewer::{Member, member};
use super::{ContextExt, changing_reference};
use crate::domain::date::Date;
use crate::domain::enums::{CustomFieldType, NumberFormat, Role};
use crate::domain::inputs::{CreateCustomFieldInput, UpdateCustomFieldInput};
use crate::error::{AppError, AppResult};
use crate::store::{self, custom_fields as fields};
use async_graphql::{Context, ID, Object};
use entity::{custom_field_definition, custom_field_value};
use std::sync::Arc;

pub struct CustomFieldDefinition(pub Arc<custom_field_definition::Model>);

impl From<custom_field_definition::Model> for CustomFieldDefinition {
    fn from(model: custom_field_definition::Model) -> Self {
        Self(Arc::new(model))
    }
}

/// A field of a register's own, with a type and, for selects, options.
#[Object]
impl CustomFieldDefinition {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The register whose risks have the field.
    async fn register(&self, ctx: &Context<'_>) -> AppResult<Register> {
        let found = ctx
            .loaders()?
            .registers
            .load_one(self.0.register_id.clone())
            .await?;
        found.ok_or_else(|| AppError::not_found("register"))
    }
    /// Unique among the register's active fields.
    fn name(&self) -> &str {
        &self.0.name
    }
    #[graphql(name = "type")]
    /// What the field's values hold; fixed at creation.
    fn field_type(&self) -> AppResult<CustomFieldType> {
        fields::type_of(&self.0)
    }
    /// How a NUMBER field is shown; null for other types.
    fn number_format(&self) -> AppResult<Option<NumberFormat>> {
        fields::number_format_of(&self.0)
    }
    /// The allowed choices of a select field, in order; null for other types.
    fn options(&self) -> AppResult<Option<Vec<String>>> {
        self.0
            .options
            .is_some()
            .then(|| fields::options_of(&self.0))
            .transpose()
    }
    /// Whether new risks must give a value.
    fn required(&self) -> bool {
        self.0.required
    }
    /// Sort position on forms, ascending.
    fn position(&self) -> i32 {
        self.0.position
    }
    /// An archived field is off forms and lists; its values stay in history.
    fn archived(&self) -> bool {
        self.0.archived
    }
}

pub struct CustomFieldValue(pub Arc<custom_field_value::Model>);

/// A risk's value of one custom field; only the member of the field's type is set.
#[Object]
impl CustomFieldValue {
    /// The field this is a value of.
    async fn field(&self, ctx: &Context<'_>) -> AppResult<CustomFieldDefinition> {
        let found = ctx
            .loaders()?
            .fields
            .load_one(self.0.field_id.clone())
            .await?;
        Ok(CustomFieldDefinition(
            found.ok_or_else(|| AppError::not_found("custom field"))?,
        ))
    }
    /// For TEXT fields; null otherwise.
    fn text(&self) -> Option<&str> {
        self.0.text_value.as_deref()
    }
    /// For NUMBER fields (PERCENTAGE as a fraction); null otherwise.
    fn number(&self) -> Option<f64> {
        self.0.number_value
    }
    /// For BOOLEAN fields; null otherwise.
    fn boolean(&self) -> Option<bool> {
        self.0.boolean_value
    }
    /// For DATE fields; null otherwise.
    fn date(&self) -> Option<Date> {
        self.0.date_value.map(Date)
    }
    /// For USER fields: the member; null otherwise.
    async fn user(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.user_id.as_ref()).await
    }
    /// For SINGLE_SELECT fields: the chosen option; null otherwise.
    fn selection(&self) -> Option<&str> {
        self.0.selection.as_deref()
    }
    /// For MULTI_SELECT fields: the chosen options; null otherwise.
    fn selections(&self) -> AppResult<Option<Vec<String>>> {
        Ok(self
            .0
            .selections
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?)
    }
}

#[derive(Default)]
pub struct CustomFieldMutation;

#[Object]
impl CustomFieldMutation {
    /// Adds a custom field to a register. Admins only.
    async fn create_custom_field(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new field.")] input: CreateCustomFieldInput,
    ) -> AppResult<Option<CustomFieldDefinition>> {
        let actor = ctx.actor(Role::Admin)?;
        Ok(Some(CustomFieldDefinition::from(
            store::custom_fields::create(actor, input).await?,
        )))
    }

    /// Changes a custom field; its type cannot change. Admins only.
    async fn update_custom_field(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The field to change.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: UpdateCustomFieldInput,
    ) -> AppResult<Option<CustomFieldDefinition>> {
        let actor = ctx.actor(Role::Admin)?;
        let write = store::custom_fields::update(actor, &id, input);
        Ok(Some(CustomFieldDefinition::from(
            changing_reference(ctx, write).await?,
        )))
    }

    /// Archives a field: it leaves forms and lists, its values stay in history.
    async fn archive_custom_field(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The field to archive.")] id: ID,
    ) -> AppResult<Option<CustomFieldDefinition>> {
        let actor = ctx.actor(Role::Admin)?;
        let write = store::custom_fields::archive(actor, &id);
        Ok(Some(CustomFieldDefinition::from(
            changing_reference(ctx, write).await?,
        )))
    }
}
