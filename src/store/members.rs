//! Organizations and members, created or refreshed just in time from the
//! claims of a verified token.

use super::Actor;
use crate::auth::{Claims, Principal};
use crate::domain::enums::Role;
use crate::domain::identifiers::{Kind, new_id};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use entity::{member, organization};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect,
};

/// The principal of verified claims, and whether it rewrote a known
/// member's row (new claims): what was read of that row is stale then. The
/// common case (a known member whose claims have not changed) costs one
/// statement.
pub async fn principal_for(
    db: &DatabaseConnection,
    claims: &Claims,
    now: DateTime<Utc>,
) -> AppResult<(Principal, bool)> {
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
    let (member, rewritten) = match found {
        // A claim the token leaves out keeps what is known: the name and
        // email an admin gave a member before their first sign-in.
        Some(m) => {
            let name = claims.name.clone().or_else(|| m.name.clone());
            let email = claims.email.clone().or_else(|| m.email.clone());
            if m.role == role.as_str() && m.name == name && m.email == email {
                (m, false)
            } else {
                let updated = member::Entity::update(member::ActiveModel {
                    id: Set(m.id.clone()),
                    role: Set(role.as_str().to_owned()),
                    name: Set(name),
                    email: Set(email),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .exec(db)
                .await?;
                (updated, true)
            }
        }
        None => (create_member(db, claims, role, now).await?, false),
    };
    let principal = Principal {
        org_id: member.org_id,
        member_id: member.id,
        role,
        expires_at: claims.exp,
        api_key: None,
    };
    Ok((principal, rewritten))
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

/// How a member is shown: name, else email, else subject (the SQL of
/// `display_name` orders by the same, lower-cased).
pub fn shown_as(m: &member::Model) -> String {
    m.name
        .as_ref()
        .or(m.email.as_ref())
        .unwrap_or(&m.subject)
        .clone()
}

/// How members are listed: by display name, ignoring case, then id.
fn display_name() -> SimpleExpr {
    Func::lower(Func::coalesce([
        Expr::col(member::Column::Name),
        Expr::col(member::Column::Email),
        Expr::col(member::Column::Subject),
    ]))
    .into()
}

/// Where a page of members starts: after this display name and id.
pub struct After {
    pub name: String,
    pub id: String,
}

/// A page of the organization's people (API keys are not people), by
/// display name; `search` matches name, email or subject, ignoring case.
/// Returns one row more than `first` when more follow.
pub async fn list(
    Actor { db, principal, .. }: Actor<'_>,
    search: Option<&str>,
    after: Option<After>,
    first: u64,
) -> AppResult<Vec<(String, member::Model)>> {
    use member::Column as C;
    let mut query = member::Entity::find()
        .filter(C::OrgId.eq(&principal.org_id))
        .filter(C::Subject.not_like(format!("{}%", crate::store::api_keys::SUBJECT_PREFIX)));
    if let Some(pattern) = search.and_then(super::contains_pattern) {
        query = query.filter(
            Condition::any()
                .add(super::lower_like(C::Name, &pattern))
                .add(super::lower_like(C::Email, &pattern))
                .add(super::lower_like(C::Subject, &pattern)),
        );
    }
    if let Some(After { name, id }) = after {
        query = query.filter(
            Condition::any()
                .add(display_name().gt(name.clone()))
                .add(display_name().eq(name).and(Expr::col(C::Id).gt(id))),
        );
    }
    let rows = query
        .column_as(display_name(), "display_name")
        .order_by(display_name(), Order::Asc)
        .order_by_asc(C::Id)
        .limit(first + 1)
        .into_model::<Listed>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.display_name, r.member))
        .collect())
}

#[derive(sea_orm::FromQueryResult)]
struct Listed {
    display_name: String,
    #[sea_orm(nested)]
    member: member::Model,
}

/// Adds a person before their first sign-in, so risks can be assigned to
/// them; their first token (same `sub`) signs in as this member.
pub async fn create(
    Actor { db, principal, now }: Actor<'_>,
    subject: &str,
    name: Option<String>,
    email: Option<String>,
    role: Role,
) -> AppResult<member::Model> {
    let taken = member::Entity::find()
        .filter(member::Column::OrgId.eq(&principal.org_id))
        .filter(member::Column::Subject.eq(subject))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::conflict(
            Some("subject"),
            "a member with this subject already exists",
        ));
    }
    let model = member::ActiveModel {
        id: Set(new_id(Kind::Member)),
        org_id: Set(principal.org_id.clone()),
        subject: Set(subject.to_owned()),
        email: Set(email),
        name: Set(name),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(member::Entity::insert(model)
        .exec_with_returning(db)
        .await?)
}
