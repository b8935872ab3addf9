//! The enumerations of the data model. Each is stored as its GraphQL name, so
//! the database reads the same as the API.

use crate::error::{AppError, AppResult};

macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* #[graphql(name = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// Reads a stored value; an unknown one means the database was
            /// written by something else, which is an internal error.
            pub fn from_stored(text: &str) -> AppResult<Self> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(AppError::internal(format!(
                        "unknown {} {other:?} in the database",
                        stringify!($name)
                    ))),
                }
            }
        }
    };
}

stored_enum! {
    /// What a member may do: viewers read, editors write risks, admins also
    /// write registers, severities and field definitions.
    Role {
        /// Reads everything in the organization.
        Viewer = "VIEWER",
        /// Also creates and changes risks, controls and links.
        Editor = "EDITOR",
        /// Also manages registers, severities and custom fields.
        Admin = "ADMIN",
    }
}

impl RiskStatus {
    /// The statuses heatmaps and summaries count when the filter names none:
    /// risks still to be dealt with, not CLOSED or ARCHIVED ones.
    pub const OPEN: [Self; 3] = [Self::Open, Self::Pending, Self::Materialized];
}

impl Role {
    /// The role named by a token's `role` claim, case-insensitively.
    pub fn from_claim(claim: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|role| role.as_str().eq_ignore_ascii_case(claim))
    }
}

stored_enum! {
    /// Where a risk stands. ARCHIVED risks are left out of lists unless asked for.
    RiskStatus {
        /// Identified and being worked on.
        Open = "OPEN",
        /// Waiting for a decision or for information.
        Pending = "PENDING",
        /// Has happened: now an issue or incident.
        Materialized = "MATERIALIZED",
        /// Resolved; `closedAt` and `closureReason` say when and why.
        Closed = "CLOSED",
        /// Kept for history only; hidden from lists unless filtered for.
        Archived = "ARCHIVED",
    }
}

stored_enum! {
    /// How far a risk has come through review.
    RiskStage {
        /// Raised, not yet reviewed.
        Proposed = "PROPOSED",
        /// Being assessed.
        Evaluating = "EVALUATING",
        /// Assessment and treatment approved.
        Approved = "APPROVED",
        /// Treatment in place and monitored.
        Operating = "OPERATING",
    }
}

stored_enum! {
    /// Why a risk was closed.
    ClosureReason {
        /// The cause was removed.
        Eliminated = "ELIMINATED",
        /// The organization lives with it.
        Accepted = "ACCEPTED",
        /// Controls bring it within tolerance.
        Mitigated = "MITIGATED",
        /// Insured or contracted away.
        Transferred = "TRANSFERRED",
        /// On review, not a risk.
        NoRisk = "NO_RISK",
    }
}

stored_enum! {
    /// How the organization responds to a risk.
    TreatmentStrategy {
        /// No strategy chosen yet.
        NotSet = "NOT_SET",
        /// Live with the risk.
        Accept = "ACCEPT",
        /// Stop the activity that causes it.
        Avoid = "AVOID",
        /// Reduce it with controls.
        Mitigate = "MITIGATE",
        /// Insure or contract it away.
        Transfer = "TRANSFER",
    }
}

stored_enum! {
    /// How well a control works today; weights its reduction of linked risks.
    ControlHealth {
        /// Works as designed: its links count in full (factor 1).
        Healthy = "HEALTHY",
        /// Degraded: its links count half (factor 0.5).
        AtRisk = "AT_RISK",
        /// Failing: its links reduce nothing (factor 0) until it recovers.
        Critical = "CRITICAL",
    }
}

stored_enum! {
    /// Which side of a risk a control reduces.
    MitigationTarget {
        /// Reduces how likely the risk is.
        Likelihood = "LIKELIHOOD",
        /// Reduces how bad it would be.
        Impact = "IMPACT",
        /// Reduces likelihood and impact alike.
        Both = "BOTH",
    }
}

stored_enum! {
    /// The type of a custom field, which decides the member of a value it uses.
    CustomFieldType {
        /// Free text, in `text`.
        Text = "TEXT",
        /// A number, in `number`, shown as `numberFormat` says.
        Number = "NUMBER",
        /// Yes or no, in `boolean`.
        Boolean = "BOOLEAN",
        /// A calendar date, in `date`.
        Date = "DATE",
        /// A member of the organization, in `user`.
        User = "USER",
        /// One of the field's `options`, in `selection`.
        SingleSelect = "SINGLE_SELECT",
        /// Any of the field's `options`, in `selections`.
        MultiSelect = "MULTI_SELECT",
    }
}

stored_enum! {
    /// How a NUMBER custom field is shown.
    NumberFormat {
        /// A plain number, e.g. 1250.5.
        Decimal = "DECIMAL",
        /// A fraction shown as a percentage: 0.25 is 25 %.
        Percentage = "PERCENTAGE",
    }
}

stored_enum! {
    /// Ready-made scales for a new register.
    ScalesPreset {
        /// 5x5, values 1..5, bands Low 0 / Medium 5 / High 10 / Critical 17.
        Default5x5 = "DEFAULT_5X5",
        /// 3x3, values 1..3, bands Low 0 / Medium 3 / High 6.
        Simple3x3 = "SIMPLE_3X3",
        /// NIST SP 800-30 Rev. 1: values 1, 2, 5, 8, 10 and the Table I-2 lookup matrix.
        Nist80030 = "NIST_800_30",
    }
}

stored_enum! {
    /// What a change did to a risk.
    RiskEventKind {
        /// The risk was created.
        Created = "CREATED",
        /// The risk or its scores changed.
        Updated = "UPDATED",
        /// The risk was archived.
        Archived = "ARCHIVED",
        /// The risk was deleted; the event keeps its last state.
        Deleted = "DELETED",
    }
}

stored_enum! {
    /// Why a risk changed.
    ChangeCause {
        /// createRisk.
        RiskCreated = "RISK_CREATED",
        /// updateRisk.
        RiskUpdated = "RISK_UPDATED",
        /// archiveRisk.
        RiskArchived = "RISK_ARCHIVED",
        /// deleteRisk.
        RiskDeleted = "RISK_DELETED",
        /// A linked control's health or effectiveness changed (updateControl, archiveControl).
        ControlUpdated = "CONTROL_UPDATED",
        /// linkControl.
        ControlLinked = "CONTROL_LINKED",
        /// unlinkControl.
        ControlUnlinked = "CONTROL_UNLINKED",
        /// The register's scales changed (updateRegister).
        ScalesUpdated = "SCALES_UPDATED",
        /// importRisks created or changed the risk.
        RisksImported = "RISKS_IMPORTED",
    }
}

stored_enum! {
    /// How an import finds the risk a row is about; a row that matches none
    /// creates one.
    ImportMatch {
        /// The `identifier` column, within the register.
        Identifier = "IDENTIFIER",
        /// The `source` and `sourceId` columns together, within the organization.
        SourceId = "SOURCE_ID",
    }
}

stored_enum! {
    /// Which levels a heatmap or score filter reads.
    ScoreBasis {
        /// The assessed levels, before controls.
        Inherent = "INHERENT",
        /// The levels after controls and overrides.
        Residual = "RESIDUAL",
    }
}

stored_enum! {
    /// What a breakdown groups a register's risks by.
    BreakdownKey {
        /// The category text.
        Category = "CATEGORY",
        /// The department text.
        Department = "DEPARTMENT",
        /// The owner; the key is the member's ID.
        Owner = "OWNER",
        /// The severity; the key is its ID.
        Severity = "SEVERITY",
        /// The status.
        Status = "STATUS",
        /// The stage.
        Stage = "STAGE",
        /// The treatment strategy.
        Treatment = "TREATMENT",
        /// The band of the chosen basis; the key is the band's position,
        /// lowest first from 0.
        Band = "BAND",
    }
}

/// How an enumeration's stored name reads to a person: `NOT_SET` is
/// "Not set".
pub fn label(stored: &str) -> String {
    let spaced = stored.to_lowercase().replace('_', " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_read_as_words() {
        assert_eq!(label("NOT_SET"), "Not set");
        assert_eq!(label("OPEN"), "Open");
        assert_eq!(label(""), "");
    }

    #[test]
    fn stored_names_round_trip() {
        for status in RiskStatus::ALL {
            assert_eq!(RiskStatus::from_stored(status.as_str()).ok(), Some(*status));
        }
        assert!(RiskStatus::from_stored("open").is_err());
    }

    #[test]
    fn role_claims_are_case_insensitive() {
        assert_eq!(Role::from_claim("admin"), Some(Role::Admin));
        assert_eq!(Role::from_claim("Editor"), Some(Role::Editor));
        assert_eq!(Role::from_claim("owner"), None);
    }
}
