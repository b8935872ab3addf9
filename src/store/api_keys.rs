//! Organization API keys: created with a secret shown once, listed, revoked,
//! and turned into a principal when a request presents the secret.

use super::{Actor, find_for_update};
use crate::auth::Principal;
use crate::domain::enums::Role;
use crate::domain::identifiers::{Kind, new_id};
use crate::error::{AppError, AppResult};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::{api_key, member};
use rand::RngCore;

/// How the member an API key acts as is told apart from people.
pub const SUBJECT_PREFIX: &str = "api-key:";
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Statement,
    TransactionTrait,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every secret starts with, so scanners and people can tell one.
const SCHEME: &str = "rg_live_";
/// Characters of a secret kept in clear as its prefix: the scheme and 12 of
/// its 43 random ones (72 bits, to look it up by).
const PREFIX_LEN: usize = SCHEME.len() + 12;
/// A key's last use is written at most this often.
const USE_GRANULARITY_SECS: i64 = 60;

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new key and its secret, which is not kept.
pub struct Created {
    pub key: api_key::Model,
    pub secret: String,
}

/// Creates a key with `role` that acts as a member of its own, named like
/// the key, so history shows which integration changed what.
pub async fn create(
    Actor { db, principal, now }: Actor<'_>,
    name: &str,
    role: Role,
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<Created> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad_input("input.name", "1 to 200 characters"));
    }
    if expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::bad_input(
            "input.expiresAt",
            "must be in the future",
        ));
    }
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let secret = format!("{SCHEME}{}", URL_SAFE_NO_PAD.encode(random));
    let id = new_id(Kind::ApiKey);
    let tx = db.begin().await?;
    let member = member::ActiveModel {
        id: Set(new_id(Kind::Member)),
        org_id: Set(principal.org_id.clone()),
        subject: Set(format!("{SUBJECT_PREFIX}{id}")),
        email: Set(None),
        name: Set(Some(name.to_owned())),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    let key = api_key::ActiveModel {
        id: Set(id),
        org_id: Set(principal.org_id.clone()),
        member_id: Set(member.id),
        name: Set(name.to_owned()),
        role: Set(role.as_str().to_owned()),
        prefix: Set(secret[..PREFIX_LEN].to_owned()),
        secret_hash: Set(hash(&secret)),
        created_by: Set(principal.member_id.clone()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(Created { key, secret })
}

/// The organization's keys, newest first.
pub async fn list(Actor { db, principal, .. }: Actor<'_>) -> AppResult<Vec<api_key::Model>> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::OrgId.eq(&principal.org_id))
        .order_by_desc(api_key::Column::CreatedAt)
        .order_by_desc(api_key::Column::Id)
        .all(db)
        .await?)
}

/// Revokes a key; revoking it again changes nothing.
pub async fn revoke(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
) -> AppResult<api_key::Model> {
    let tx = db.begin().await?;
    let key = find_for_update::<api_key::Entity>(&tx, &principal.org_id, id).await?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut active = key.into_active_model();
    active.revoked_at = Set(Some(now));
    let key = active.update(&tx).await?;
    tx.commit().await?;
    Ok(key)
}

/// The ids of keys revoked at or after `since`, by the revoking instance's
/// clock.
pub async fn revoked_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> AppResult<Vec<String>> {
    Ok(api_key::Entity::find()
        .select_only()
        .column(api_key::Column::Id)
        .filter(api_key::Column::RevokedAt.gte(since))
        .into_tuple()
        .all(db)
        .await?)
}

/// The principal of a presented secret. Unknown, revoked and expired keys
/// are all UNAUTHENTICATED; the hash is compared in constant time.
/// Read on `read`; the last use is written on `write`, at most once a
/// minute per key.
pub async fn principal_for(
    (read, write): (&DatabaseConnection, &DatabaseConnection),
    secret: &str,
    now: DateTime<Utc>,
) -> AppResult<Principal> {
    let unknown = || AppError::Unauthenticated("unknown API key".into());
    if !secret.starts_with(SCHEME) || secret.len() < PREFIX_LEN || !secret.is_ascii() {
        return Err(unknown());
    }
    let key = api_key::Entity::find()
        .filter(api_key::Column::Prefix.eq(&secret[..PREFIX_LEN]))
        .one(read)
        .await?
        .ok_or_else(unknown)?;
    if !bool::from(hash(secret).as_bytes().ct_eq(key.secret_hash.as_bytes())) {
        return Err(unknown());
    }
    if key.revoked_at.is_some() {
        return Err(AppError::Unauthenticated("the API key was revoked".into()));
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::Unauthenticated("the API key has expired".into()));
    }
    let role = Role::from_stored(&key.role)?;
    let stale = key
        .last_used_at
        .is_none_or(|at| (now - at).num_seconds() >= USE_GRANULARITY_SECS);
    if stale {
        api_key::Entity::update_many()
            .col_expr(
                api_key::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(api_key::Column::Id.eq(&key.id))
            .exec(write)
            .await?;
    }
    Ok(Principal {
        org_id: key.org_id,
        member_id: key.member_id,
        role,
        expires_at: key.expires_at.map_or(i64::MAX / 2, |at| at.timestamp()),
        api_key: Some(key.id),
    })
}

/// The PostgreSQL channel on which instances tell each other of a revoked
/// key (the payload is its id), so its open subscriptions end everywhere.
pub const CHANNEL: &str = "riskgraph_api_keys";

pub async fn announce_revoked(db: &DatabaseConnection, id: &str) -> AppResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), id.into()],
        ))
        .await?;
    }
    Ok(())
}
