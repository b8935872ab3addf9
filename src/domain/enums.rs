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
        Viewer = "VIEWER",
        Editor = "EDITOR",
        Admin = "ADMIN",
    }
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
        Open = "OPEN",
        Pending = "PENDING",
        Materialized = "MATERIALIZED",
        Closed = "CLOSED",
        Archived = "ARCHIVED",
    }
}

stored_enum! {
    /// How far a risk has come through review.
    RiskStage {
        Proposed = "PROPOSED",
        Evaluating = "EVALUATING",
        Approved = "APPROVED",
        Operating = "OPERATING",
    }
}

stored_enum! {
    /// Why a risk was closed.
    ClosureReason {
        Eliminated = "ELIMINATED",
        Accepted = "ACCEPTED",
        Mitigated = "MITIGATED",
        Transferred = "TRANSFERRED",
        NoRisk = "NO_RISK",
    }
}

stored_enum! {
    /// How the organization responds to a risk.
    TreatmentStrategy {
        NotSet = "NOT_SET",
        Accept = "ACCEPT",
        Avoid = "AVOID",
        Mitigate = "MITIGATE",
        Transfer = "TRANSFER",
    }
}

stored_enum! {
    /// How well a control works today; weights its reduction of linked risks.
    ControlHealth {
        Healthy = "HEALTHY",
        AtRisk = "AT_RISK",
        Critical = "CRITICAL",
    }
}

stored_enum! {
    /// Which side of a risk a control reduces.
    MitigationTarget {
        Likelihood = "LIKELIHOOD",
        Impact = "IMPACT",
        Both = "BOTH",
    }
}

stored_enum! {
    /// The type of a custom field, which decides the member of a value it uses.
    CustomFieldType {
        Text = "TEXT",
        Number = "NUMBER",
        Boolean = "BOOLEAN",
        Date = "DATE",
        User = "USER",
        SingleSelect = "SINGLE_SELECT",
        MultiSelect = "MULTI_SELECT",
    }
}

stored_enum! {
    /// How a NUMBER custom field is shown.
    NumberFormat {
        Decimal = "DECIMAL",
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
        Created = "CREATED",
        Updated = "UPDATED",
        Archived = "ARCHIVED",
        Deleted = "DELETED",
    }
}

stored_enum! {
    /// Why a risk changed.
    ChangeCause {
        RiskCreated = "RISK_CREATED",
        RiskUpdated = "RISK_UPDATED",
        RiskArchived = "RISK_ARCHIVED",
        RiskDeleted = "RISK_DELETED",
        ControlUpdated = "CONTROL_UPDATED",
        ControlLinked = "CONTROL_LINKED",
        ControlUnlinked = "CONTROL_UNLINKED",
        ScalesUpdated = "SCALES_UPDATED",
    }
}

stored_enum! {
    /// Which levels a heatmap or score filter reads.
    ScoreBasis {
        Inherent = "INHERENT",
        Residual = "RESIDUAL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
