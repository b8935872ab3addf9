//! Organizations, members, registers, severities, custom fields, risks with
//! their stored scores, and the risk_events outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id() -> ColumnDef {
    string("id").primary_key().take()
}

fn timestamps(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
}

fn index(table: &'static str, name: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(*col);
    }
    index.take()
}

fn foreign(from: &'static str, col: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, col)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("organizations")
                    .col(id())
                    .col(string_uniq("external_key"))
                    .col(string("name"))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table("members")
                        .col(id())
                        .col(string("org_id"))
                        .col(string("subject"))
                        .col(string_null("email"))
                        .col(string_null("name"))
                        .col(string("role")),
                )
                .foreign_key(&mut foreign("members", "org_id", "organizations"))
                .take(),
            )
            .await?;
        manager
            .create_index(
                index("members", "members_org_subject", &["org_id", "subject"])
                    .unique()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table("registers")
                        .col(id())
                        .col(string("org_id"))
                        .col(string("name"))
                        .col(text_null("description"))
                        .col(string("identifier_prefix"))
                        .col(big_integer("next_number"))
                        .col(text("scales"))
                        .col(boolean("archived"))
                        .col(integer("version")),
                )
                .foreign_key(&mut foreign("registers", "org_id", "organizations"))
                .take(),
            )
            .await?;
        manager
            .create_index(index(
                "registers",
                "registers_org",
                &["org_id", "archived", "name"],
            ))
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table("severities")
                        .col(id())
                        .col(string("org_id"))
                        .col(string("name"))
                        .col(string("reference"))
                        .col(string_null("description"))
                        .col(text_null("information"))
                        .col(integer("position"))
                        .col(boolean("disabled"))
                        .col(string_null("source"))
                        .col(string_null("source_id")),
                )
                .foreign_key(&mut foreign("severities", "org_id", "organizations"))
                .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "severities",
                    "severities_org_reference",
                    &["org_id", "reference"],
                )
                .unique()
                .take(),
            )
            .await?;
        manager
            .create_index(index(
                "severities",
                "severities_org_position",
                &["org_id", "position", "name"],
            ))
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table("custom_field_definitions")
                        .col(id())
                        .col(string("org_id"))
                        .col(string("register_id"))
                        .col(string("name"))
                        .col(string("field_type"))
                        .col(string_null("number_format"))
                        .col(text_null("options"))
                        .col(boolean("required"))
                        .col(integer("position"))
                        .col(boolean("archived")),
                )
                .foreign_key(&mut foreign(
                    "custom_field_definitions",
                    "register_id",
                    "registers",
                ))
                .take(),
            )
            .await?;
        manager
            .create_index(index(
                "custom_field_definitions",
                "custom_fields_register",
                &["register_id", "position"],
            ))
            .await?;

        let mut risks = Table::create();
        risks
            .table("risks")
            .col(id())
            .col(string("org_id"))
            .col(string("register_id"))
            .col(string("identifier"))
            .col(string("title"))
            .col(text_null("description"))
            .col(string_null("category"))
            .col(string_null("department"))
            .col(string("status"))
            .col(string("stage"))
            .col(string_null("closure_reason"))
            .col(timestamp_with_time_zone_null("closed_at"))
            .col(string_null("severity_id"))
            .col(string_null("owner_id"))
            .col(integer_null("likelihood_level"))
            .col(integer_null("impact_level"))
            .col(text_null("likelihood_rationale"))
            .col(text_null("impact_rationale"))
            .col(integer_null("residual_likelihood_override"))
            .col(integer_null("residual_impact_override"))
            .col(text_null("residual_override_reason"))
            .col(string_null("residual_overridden_by"))
            .col(timestamp_with_time_zone_null("residual_overridden_at"))
            .col(integer_null("tolerance_level"))
            .col(string("treatment"))
            .col(text_null("treatment_description"))
            .col(text_null("treatment_rationale"))
            .col(date_null("mitigation_target_at"))
            .col(text_null("notes"))
            .col(string_null("source"))
            .col(string_null("source_id"))
            .col(double_null("inherent_score"))
            .col(integer_null("inherent_band"))
            .col(integer_null("residual_likelihood_level"))
            .col(integer_null("residual_impact_level"))
            .col(double_null("residual_likelihood_value"))
            .col(double_null("residual_impact_value"))
            .col(double_null("residual_score"))
            .col(integer_null("residual_band"))
            .col(boolean("residual_overridden"))
            .col(integer_null("target_likelihood_level"))
            .col(integer_null("target_impact_level"))
            .col(double_null("target_likelihood_value"))
            .col(double_null("target_impact_value"))
            .col(double_null("target_score"))
            .col(integer_null("target_band"))
            .col(boolean_null("within_tolerance"))
            .col(integer("version"))
            .col(timestamp_with_time_zone("created_at"))
            .col(string_null("created_by"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(string_null("updated_by"))
            .foreign_key(&mut foreign("risks", "register_id", "registers"))
            .foreign_key(
                ForeignKey::create()
                    .from("risks", "severity_id")
                    .to("severities", "id")
                    .on_delete(ForeignKeyAction::Restrict),
            );
        manager.create_table(risks).await?;

        let risk_indexes: &[(&str, &[&str])] = &[
            ("risks_register_identifier", &["register_id", "identifier"]),
            ("risks_org_source", &["org_id", "source", "source_id"]),
        ];
        for (name, cols) in risk_indexes {
            manager
                .create_index(index("risks", name, cols).unique().take())
                .await?;
        }
        // One index per filter and sort the API offers, led by the register
        // (every dashboard query names one) or the organization.
        let risk_indexes: &[(&str, &[&str])] = &[
            ("risks_org_updated", &["org_id", "updated_at"]),
            ("risks_org_created", &["org_id", "created_at"]),
            ("risks_register_status", &["register_id", "status"]),
            ("risks_register_created", &["register_id", "created_at"]),
            ("risks_register_updated", &["register_id", "updated_at"]),
            ("risks_register_title", &["register_id", "title"]),
            (
                "risks_register_target_date",
                &["register_id", "mitigation_target_at"],
            ),
            (
                "risks_register_inherent",
                &["register_id", "inherent_score"],
            ),
            (
                "risks_register_residual",
                &["register_id", "residual_score"],
            ),
            (
                "risks_register_inherent_cell",
                &["register_id", "likelihood_level", "impact_level"],
            ),
            (
                "risks_register_residual_cell",
                &[
                    "register_id",
                    "residual_likelihood_level",
                    "residual_impact_level",
                ],
            ),
            (
                "risks_register_residual_band",
                &["register_id", "residual_band"],
            ),
            ("risks_register_category", &["register_id", "category"]),
            ("risks_owner", &["owner_id"]),
            ("risks_severity", &["severity_id"]),
        ];
        for (name, cols) in risk_indexes {
            manager.create_index(index("risks", name, cols)).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("custom_field_values")
                    .col(string("risk_id"))
                    .col(string("field_id"))
                    .col(string("org_id"))
                    .col(text_null("text_value"))
                    .col(double_null("number_value"))
                    .col(boolean_null("boolean_value"))
                    .col(date_null("date_value"))
                    .col(string_null("user_id"))
                    .col(string_null("selection"))
                    .col(text_null("selections"))
                    .primary_key(Index::create().col("risk_id").col("field_id"))
                    .foreign_key(&mut foreign("custom_field_values", "risk_id", "risks"))
                    .foreign_key(&mut foreign(
                        "custom_field_values",
                        "field_id",
                        "custom_field_definitions",
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "custom_field_values",
                "custom_field_values_field",
                &["field_id"],
            ))
            .await?;

        // No foreign keys: the feed outlives the risks it describes.
        manager
            .create_table(
                Table::create()
                    .table("risk_events")
                    .col(big_pk_auto("seq"))
                    .col(string("org_id"))
                    .col(string("register_id"))
                    .col(string("risk_id"))
                    .col(string("kind"))
                    .col(string("cause"))
                    .col(string_null("actor_id"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(text("changes"))
                    .col(text_null("residual_before"))
                    .col(text_null("residual_after"))
                    .take(),
            )
            .await?;
        let event_indexes: &[(&str, &[&str])] = &[
            ("risk_events_org_seq", &["org_id", "seq"]),
            ("risk_events_register_seq", &["register_id", "seq"]),
            ("risk_events_risk_seq", &["risk_id", "seq"]),
        ];
        for (name, cols) in event_indexes {
            manager
                .create_index(index("risk_events", name, cols))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "risk_events",
            "custom_field_values",
            "risks",
            "custom_field_definitions",
            "severities",
            "registers",
            "members",
            "organizations",
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
