//! The one error type of the service. Every error a client sees carries a
//! stable `extensions.code`; anything unexpected becomes INTERNAL with a
//! generic message and a request-independent error id, the cause going only to
//! the log.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql turns any
//! `Display` type into an error carrying its text, so a resolver returning
//! `Result<_, AppError>` cannot leak a database message through a stray `?`.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

#[derive(Clone, Debug)]
pub enum AppError {
    Unauthenticated(String),
    Forbidden(String),
    NotFound(String),
    BadUserInput {
        field: String,
        message: String,
    },
    Conflict {
        field: Option<String>,
        message: String,
    },
    LimitExceeded(String),
    /// The database cannot be reached: HTTP 503 with `Retry-After`.
    Unavailable,
    Internal {
        id: String,
    },
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(field: Option<&str>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Logs the cause with a fresh id and returns the error the client sees.
    pub fn internal(cause: impl std::fmt::Debug) -> Self {
        let id = ulid::Ulid::new().to_string();
        tracing::error!(error_id = %id, cause = ?cause, "internal error");
        Self::Internal { id }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadUserInput { .. } => "BAD_USER_INPUT",
            Self::Conflict { .. } => "CONFLICT",
            Self::LimitExceeded(_) => "LIMIT_EXCEEDED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal { .. } => "INTERNAL",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::LimitExceeded(m)
            | Self::BadUserInput { message: m, .. }
            | Self::Conflict { message: m, .. } => m.clone(),
            Self::Unavailable => "the database is unavailable; try again shortly".into(),
            Self::Internal { id } => format!("internal error (id {id})"),
        }
    }

    /// NOT_FOUND of a row the input named is an input error on `field`.
    pub fn missing_is_input(self, field: &str) -> Self {
        match self {
            Self::NotFound(message) => Self::bad_input(field, message),
            other => other,
        }
    }

    /// Names what the error is about in its message, for an operation on
    /// many things at once (`ids[3] (risk_…): the risk is at version 4`).
    pub fn about(self, what: &str) -> Self {
        let named = |m: String| format!("{what}: {m}");
        match self {
            Self::Unauthenticated(m) => Self::Unauthenticated(named(m)),
            Self::Forbidden(m) => Self::Forbidden(named(m)),
            Self::NotFound(m) => Self::NotFound(named(m)),
            Self::LimitExceeded(m) => Self::LimitExceeded(named(m)),
            Self::BadUserInput { field, message } => Self::BadUserInput {
                field,
                message: named(message),
            },
            Self::Conflict { field, message } => Self::Conflict {
                field,
                message: named(message),
            },
            other @ (Self::Unavailable | Self::Internal { .. }) => other,
        }
    }

    /// Prefixes the field of an input error, for errors found in a nested input.
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Self::BadUserInput { field, message } => Self::BadUserInput {
                field: format!("{prefix}.{field}"),
                message,
            },
            other => other,
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", err.code());
            match &err {
                AppError::BadUserInput { field, .. } => ext.set("field", field.as_str()),
                AppError::Conflict {
                    field: Some(field), ..
                } => ext.set("field", field.as_str()),
                AppError::Internal { id } => ext.set("errorId", id.as_str()),
                _ => {}
            }
        })
    }
}

/// Whether the database could not be reached at all (no connection in time,
/// a connection lost, the server shutting down, a SQLite file locked by
/// another process), as opposed to a statement that failed: the client may
/// retry the very same request later.
fn unreachable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e) => e,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                // SQLITE_BUSY and SQLITE_LOCKED, in any of their extended
                // codes: another process holds the database file's lock.
                return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            }
            // PostgreSQL's class 57 (operator intervention: shutting down,
            // starting up) and 08 (connection exceptions).
            code.starts_with("57P") || code.starts_with("08")
        }
        _ => false,
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if unreachable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Self::Unavailable;
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Self::conflict(None, "a record with the same unique key already exists")
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Self::conflict(None, "the record is referenced by or refers to another")
            }
            _ => match err {
                DbErr::RecordNotFound(_) => Self::not_found("record"),
                other => Self::internal(other),
            },
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(err: serde_json::Error) -> Self {
        Self::internal(err)
    }
}
