//! `importRisks`: a spreadsheet of risks into a register, all or nothing.

use super::ContextExt;
use crate::domain::enums::{ImportMatch, Role};
use crate::error::AppResult;
use crate::store::risk_import::{self, Import, Imported, RowError};
use async_graphql::{Context, ID, Object, SimpleObject};

/// What an import did; for a dry run, or a file with errors, what it would
/// have done with its good rows. Nothing is written unless `errors` is empty
/// and it was not a dry run.
#[derive(SimpleObject)]
pub struct ImportResult {
    /// Rows that create a risk.
    pub created: i32,
    /// Rows that change a risk; each gets one event.
    pub updated: i32,
    /// Rows that match a risk and change nothing.
    pub unchanged: i32,
    /// Every problem of every row; empty when the import applies.
    pub errors: Vec<ImportError>,
    /// Whether the changes were written.
    pub written: bool,
}

/// A problem with one row of an import.
#[derive(SimpleObject)]
pub struct ImportError {
    /// The row: the header is row 1, the first risk row 2; blank lines are not counted.
    pub row: i32,
    /// The column's header; null when the problem is the whole row's.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl ImportResult {
    fn of(imported: Imported, dry_run: bool) -> Self {
        let written = imported.errors.is_empty() && !dry_run;
        Self {
            created: count(imported.created),
            updated: count(imported.updated),
            unchanged: count(imported.unchanged),
            errors: imported
                .errors
                .into_iter()
                .map(
                    |RowError {
                         row,
                         column,
                         message,
                     }| ImportError {
                        row: count(row),
                        column,
                        message,
                    },
                )
                .collect(),
            written,
        }
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Creates and updates a register's risks from CSV, with the columns of
    /// `GET /registers/{id}/risks.csv`, so an export imports back unchanged.
    /// Each row follows the rules of createRisk or updateRisk; an empty cell
    /// clears the field of an existing risk, and a column left out keeps it.
    /// One transaction: any error writes nothing, and every row's errors are
    /// listed. Editors and admins.
    async fn import_risks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The register to import into; it must not be archived.")] register_id: ID,
        #[graphql(
            desc = "RFC 4180 CSV with a header row; at most RISKGRAPH_MAX_IMPORT_ROWS rows (5,000 by default)."
        )]
        csv: String,
        #[graphql(
            desc = "How a row finds its risk; a row that finds none creates one.",
            default_with = "Some(ImportMatch::Identifier)"
        )]
        match_by: Option<ImportMatch>,
        #[graphql(
            desc = "Check and count without writing anything.",
            default_with = "Some(false)"
        )]
        dry_run: Option<bool>,
    ) -> AppResult<ImportResult> {
        let actor = ctx.actor(Role::Editor)?;
        let dry_run = dry_run.unwrap_or(false);
        let import = Import {
            register_id: &register_id,
            csv: &csv,
            match_by: match_by.unwrap_or(ImportMatch::Identifier),
            dry_run,
            max_rows: ctx.services()?.limits.max_import_rows,
        };
        let imported = risk_import::import(actor, import).await?;
        Ok(ImportResult::of(imported, dry_run))
    }
}
