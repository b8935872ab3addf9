//! A risk's scores, levels, status and version move to a table of their own,
//! `risk_scores`, one row per risk; `risks` keeps what people write about
//! it. The view `risk_view` joins the two back into one row per risk, and
//! every read goes through it.
//!
//! Why: a control's change or a scales change re-scores thousands of risks,
//! and on PostgreSQL every updated row writes a new entry into every index of
//! its table (about 4 µs per index per row here). `risks` had 22 indexes;
//! a re-score now writes the 10 of `risk_scores` and leaves `risks` alone.
//! Measured in `psql` on 100,000 risks, one `UPDATE` of the scores of 10,000
//! of them: 1.60-1.74 s in one table, 0.54-0.76 s in `risk_scores`.
//!
//! Status is here because the heatmap indexes lead with it; the register and
//! organization are in both tables, so that each side's indexes can start
//! with them, and the view joins on them too: the planner then carries a
//! condition on either to both tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns that leave `risks`, as `risks` declared them.
fn moved() -> Vec<ColumnDef> {
    vec![
        string("status"),
        integer_null("likelihood_level"),
        integer_null("impact_level"),
        integer_null("residual_likelihood_override"),
        integer_null("residual_impact_override"),
        double_null("inherent_score"),
        integer_null("inherent_band"),
        integer_null("residual_likelihood_level"),
        integer_null("residual_impact_level"),
        double_null("residual_likelihood_value"),
        double_null("residual_impact_value"),
        double_null("residual_score"),
        integer_null("residual_band"),
        boolean("residual_overridden"),
        integer_null("target_likelihood_level"),
        integer_null("target_impact_level"),
        double_null("target_likelihood_value"),
        double_null("target_impact_value"),
        double_null("target_score"),
        integer_null("target_band"),
        boolean_null("within_tolerance"),
        integer("version"),
        timestamp_with_time_zone("updated_at"),
        string_null("updated_by"),
    ]
}

/// The indexes that move with them, by their name on `risks`.
const INDEXES: &[(&str, &[&str])] = &[
    ("org_updated", &["org_id", "updated_at"]),
    ("register_residual_band", &["register_id", "residual_band"]),
    ("register_inherent_band", &["register_id", "inherent_band"]),
    ("register_tolerance", &["register_id", "within_tolerance"]),
    (
        "heatmap_residual",
        &[
            "register_id",
            "org_id",
            "status",
            "residual_likelihood_level",
            "residual_impact_level",
        ],
    ),
    (
        "heatmap_inherent",
        &[
            "register_id",
            "org_id",
            "status",
            "likelihood_level",
            "impact_level",
        ],
    ),
    ("order_residual", &["register_id", "residual_score", "id"]),
    ("order_inherent", &["register_id", "inherent_score", "id"]),
    ("order_updated", &["register_id", "updated_at", "id"]),
];

const KEYS: [&str; 3] = ["id", "register_id", "org_id"];

fn names(columns: &[ColumnDef]) -> Vec<String> {
    columns
        .iter()
        .map(|c| c.get_column_name().to_string())
        .collect()
}

fn index(table: &str, suffix: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(format!("{table}_{suffix}"))
        .table(Alias::new(table));
    for column in columns {
        index.col(Alias::new(*column));
    }
    index.take()
}

fn drop_index(table: &str, suffix: &str) -> IndexDropStatement {
    Index::drop()
        .name(format!("{table}_{suffix}"))
        .table(Alias::new(table))
        .to_owned()
}

/// Every column of a risk in `risks`' old order, each from the table that
/// now holds it.
fn view(moved: &[String]) -> String {
    const ALL: [&str; 52] = [
        "id",
        "org_id",
        "register_id",
        "identifier",
        "title",
        "description",
        "category",
        "department",
        "status",
        "stage",
        "closure_reason",
        "closed_at",
        "severity_id",
        "owner_id",
        "likelihood_level",
        "impact_level",
        "likelihood_rationale",
        "impact_rationale",
        "residual_likelihood_override",
        "residual_impact_override",
        "residual_override_reason",
        "residual_overridden_by",
        "residual_overridden_at",
        "tolerance_level",
        "treatment",
        "treatment_description",
        "treatment_rationale",
        "mitigation_target_at",
        "notes",
        "source",
        "source_id",
        "inherent_score",
        "inherent_band",
        "residual_likelihood_level",
        "residual_impact_level",
        "residual_likelihood_value",
        "residual_impact_value",
        "residual_score",
        "residual_band",
        "residual_overridden",
        "target_likelihood_level",
        "target_impact_level",
        "target_likelihood_value",
        "target_impact_value",
        "target_score",
        "target_band",
        "within_tolerance",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    ];
    let columns: Vec<String> = ALL
        .iter()
        .map(|c| {
            // The id from `risk_scores`: a list of ids then picks its rows
            // there, and each row's `risks` half by its key.
            let from = if *c == "id" || moved.iter().any(|m| m == c) {
                "s"
            } else {
                "r"
            };
            format!("{from}.{c}")
        })
        .collect();
    format!(
        "CREATE VIEW risk_view AS SELECT {} FROM risks r JOIN risk_scores s \
         ON s.id = r.id AND s.register_id = r.register_id AND s.org_id = r.org_id",
        columns.join(", ")
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let moved = moved();
        let moved_names = names(&moved);
        let mut table = Table::create();
        table
            .table("risk_scores")
            .col(string("id").primary_key())
            .col(string("register_id"))
            .col(string("org_id"));
        for column in moved {
            table.col(column);
        }
        table.foreign_key(
            ForeignKey::create()
                .from("risk_scores", "id")
                .to("risks", "id")
                .on_delete(ForeignKeyAction::Cascade),
        );
        manager.create_table(table).await?;
        let columns = KEYS
            .iter()
            .map(|k| (*k).to_owned())
            .chain(moved_names.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ");
        db.execute_unprepared(&format!(
            "INSERT INTO risk_scores ({columns}) SELECT {columns} FROM risks"
        ))
        .await?;
        for (suffix, columns) in INDEXES {
            manager.drop_index(drop_index("risks", suffix)).await?;
            manager
                .create_index(index("risk_scores", suffix, columns))
                .await?;
        }
        // One column a statement: SQLite alters one at a time.
        for column in &moved_names {
            manager
                .alter_table(
                    Table::alter()
                        .table("risks")
                        .drop_column(Alias::new(column))
                        .take(),
                )
                .await?;
        }
        db.execute_unprepared(&view(&moved_names)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP VIEW risk_view").await?;
        let moved_names = names(&moved());
        for mut column in moved() {
            // Added nullable, filled, then left so: SQLite cannot add a
            // NOT NULL column without a constant default.
            column.null();
            manager
                .alter_table(Table::alter().table("risks").add_column(column).take())
                .await?;
        }
        db.execute_unprepared(&format!(
            "UPDATE risks SET ({list}) = (SELECT {list} FROM risk_scores s WHERE s.id = risks.id)",
            list = moved_names.join(", ")
        ))
        .await?;
        for (suffix, columns) in INDEXES {
            manager
                .create_index(index("risks", suffix, columns))
                .await?;
        }
        manager
            .drop_table(Table::drop().table("risk_scores").take())
            .await
    }
}
