//! The organization's people, for owner pickers, and adding one before their
//! first sign-in.

use super::ContextExt;
use super::risks::PageInfo;
use super::viewer::Member;
use crate::domain::enums::Role;
use crate::domain::validation::{self, NAME_MAX};
use crate::error::{AppError, AppResult};
use crate::store::api_keys::SUBJECT_PREFIX;
use crate::store::members::{self, After};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A page of members, by name.
#[derive(SimpleObject)]
pub struct MemberConnection {
    /// The members with their cursors.
    pub edges: Vec<MemberEdge>,
    /// The members, without cursors.
    pub nodes: Vec<Member>,
    /// Where the page sits.
    pub page_info: PageInfo,
}

/// A member and its cursor.
#[derive(SimpleObject)]
pub struct MemberEdge {
    /// Pass as `after` to continue after this member.
    pub cursor: String,
    /// The member.
    pub node: Member,
}

/// A person to add before their first sign-in.
#[derive(InputObject)]
pub struct CreateMemberInput {
    /// The `sub` claim their tokens will carry.
    pub subject: String,
    /// How they are shown until a token names them.
    pub name: Option<String>,
    /// Their email until a token gives one.
    pub email: Option<String>,
    /// Their role until their first token tells it.
    pub role: Role,
}

fn cursor(name: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!([name, id]).to_string())
}

fn parse_cursor(cursor: &str) -> AppResult<After> {
    let bad = || AppError::bad_input("after", "not a cursor of this query");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let (name, id): (String, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(After { name, id })
}

#[derive(Default)]
pub struct MemberQuery;

#[Object]
impl MemberQuery {
    /// The organization's people by name (API keys are not listed): for
    /// choosing an owner. Any role.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only members whose name, email or subject contains this, ignoring case."
        )]
        search: Option<String>,
        #[graphql(desc = "How many; 50 when not given, at most 500.")] first: Option<i32>,
        #[graphql(desc = "A cursor from an earlier page: continue after it.")] after: Option<
            String,
        >,
    ) -> AppResult<MemberConnection> {
        let first = super::page_size(ctx, first, 50)?;
        let after = after.as_deref().map(parse_cursor).transpose()?;
        let resumed = after.is_some();
        let mut rows = members::list(ctx.viewer()?, search.as_deref(), after, first).await?;
        let more = rows.len() as u64 > first;
        rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        let edges: Vec<MemberEdge> = rows
            .into_iter()
            .map(|(name, member)| MemberEdge {
                cursor: cursor(&name, &member.id),
                node: Member::from(member),
            })
            .collect();
        Ok(MemberConnection {
            page_info: PageInfo {
                has_next_page: more,
                has_previous_page: resumed,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            nodes: edges.iter().map(|e| Member(e.node.0.clone())).collect(),
            edges,
        })
    }
}

#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Adds a person before their first sign-in, so risks can be assigned to
    /// them. Their first token with this `sub` signs in as this member; its
    /// claims then replace the name, email and role given here. Admins only.
    async fn create_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The person.")] input: CreateMemberInput,
    ) -> AppResult<Member> {
        let actor = ctx.actor(Role::Admin)?;
        let subject = input.subject.trim();
        validation::required("subject", subject, NAME_MAX)?;
        if subject.starts_with(SUBJECT_PREFIX) {
            return Err(AppError::bad_input(
                "subject",
                format!("subjects starting {SUBJECT_PREFIX} belong to API keys"),
            ));
        }
        let name = validation::optional_text("name", input.name, NAME_MAX)?;
        let email = validation::optional_text("email", input.email, NAME_MAX)?;
        if let Some(email) = &email {
            validation::email("email", email)?;
        }
        let created = members::create(actor, subject, name, email, input.role).await?;
        Ok(Member::from(created))
    }
}
