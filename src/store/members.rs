//! Organizations and members, created or refreshed just in time from the
//! claims of a verified token.

use super::Actor;
use crate::auth::{Claims, Principal};
use crate::domain::enums::Role;
use crate::domain::identifiers::{Kind, new_id};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use entity::{member, organization};
use sea_orm::sea_query::Query;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// The principal of verified claims. The common case (a known member whose
/// claims have not changed) costs one statement.
pub async fn principal_for(
    db: &DatabaseConnection,
    claims: &Claims,
    now: DateTime<Utc>,
) -> AppResult<Principal> {
    let role = Role::from_claim(&claims.role)
        .ok_or_else(|| AppError::Unauthenticated(format!("unknown role {:?}", claims.role)))?;
    if claims.org.is_empty() || claims.sub.is_empty() {
        return Err(AppError::Unauthenticated(
            "the token names no org or sub".into(),
        ));
    }
    let found = member::Entity::find()
        .filter(member::Column::Subject.eq(&claims.sub))
        .filter(
            member::Column::OrgId.in_subquery(
                Query::select()
                    .column(organization::Column::Id)
                    .from(organization::Entity)
                    .and_where(organization::Column::ExternalKey.eq(&claims.org))
                    .take(),
            ),
        )
        .one(db)
        .await?;
    let member = match found {
        Some(m) if m.role == role.as_str() && m.name == claims.name && m.email == claims.email => m,
        Some(m) => {
            member::Entity::update(member::ActiveModel {
                id: Set(m.id.clone()),
                role: Set(role.as_str().to_owned()),
                name: Set(claims.name.clone()),
                email: Set(claims.email.clone()),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec(db)
            .await?
        }
        None => create_member(db, claims, role, now).await?,
    };
    Ok(Principal {
        org_id: member.org_id,
        member_id: member.id,
        role,
        expires_at: claims.exp,
        api_key: None,
    })
}

/// First sight of a member (and maybe of its organization). Concurrent first
/// requests race on the unique keys; whoever loses reads the winner's row.
async fn create_member(
    db: &DatabaseConnection,
    claims: &Claims,
    role: Role,
    now: DateTime<Utc>,
) -> AppResult<member::Model> {
    organization::Entity::insert(organization::ActiveModel {
        id: Set(new_id(Kind::Organization)),
        external_key: Set(claims.org.clone()),
        name: Set(claims.org.clone()),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([organization::Column::ExternalKey])
    .exec(db)
    .await?;
    let org = organization::Entity::find()
        .filter(organization::Column::ExternalKey.eq(&claims.org))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("organization vanished after insert"))?;
    member::Entity::insert(member::ActiveModel {
        id: Set(new_id(Kind::Member)),
        org_id: Set(org.id.clone()),
        subject: Set(claims.sub.clone()),
        email: Set(claims.email.clone()),
        name: Set(claims.name.clone()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([member::Column::OrgId, member::Column::Subject])
    .exec(db)
    .await?;
    member::Entity::find()
        .filter(member::Column::OrgId.eq(&org.id))
        .filter(member::Column::Subject.eq(&claims.sub))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("member vanished after insert"))
}

pub async fn organization(
    Actor { db, principal, .. }: Actor<'_>,
) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(&principal.org_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("organization"))
}
