//! Setup through the public API, named for what it makes.

use crate::helpers::{Client, TestApp};
use entity::risk_event;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

/// The id of what `mutation` (whose root field is `root`) created.
pub async fn created(client: &Client, mutation: &str, variables: Value, root: &str) -> String {
    let data = client.ok(mutation, variables).await;
    data[root]["id"].as_str().expect("id").to_owned()
}

/// A register on the default 5x5 scales; returns its id.
pub async fn register(client: &Client, prefix: &str) -> String {
    let mutation = "mutation($p: String!) { createRegister(input: {name: \"Ops\", identifierPrefix: $p}) { id } }";
    created(client, mutation, json!({ "p": prefix }), "createRegister").await
}

/// A risk in `register` with the given extra input fields; returns the risk.
pub async fn risk(client: &Client, register: &str, title: &str, extra: Value) -> Value {
    let mut input = json!({ "registerId": register, "title": title });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    let data = client
        .ok(
            &format!("mutation($input: CreateRiskInput!) {{ createRisk(input: $input) {{ {RISK_FIELDS} }} }}"),
            json!({ "input": input }),
        )
        .await;
    data["createRisk"].clone()
}

/// A register, and in it a risk scored at `(likelihood, impact)` levels.
pub async fn scored_risk(client: &Client, (likelihood, impact): (i32, i32)) -> (String, Value) {
    let register = register(client, "RA").await;
    let levels = json!({"likelihoodLevel": likelihood, "impactLevel": impact});
    let risk = risk(client, &register, "t", levels).await;
    (register, risk)
}

/// A control with the given input; returns its id.
pub async fn control(client: &Client, input: Value) -> String {
    let mutation = "mutation($i: CreateControlInput!) { createControl(input: $i) { id } }";
    created(client, mutation, json!({ "i": input }), "createControl").await
}

/// Links `control` to `risk`; `extra` adds arguments (`, strength: 0.5`).
pub async fn link(client: &Client, risk: &Value, control: &str, extra: &str) -> Value {
    client
        .ok(
            &format!("mutation($r: ID!, $c: ID!) {{ linkControl(riskId: $r, controlId: $c{extra}) {{ reduces strength control {{ id }} risk {{ id residual {{ score }} }} }} }}"),
            json!({ "r": risk["id"], "c": control }),
        )
        .await["linkControl"]
        .clone()
}

/// A custom field of `register` with the given input; returns its id.
pub async fn custom_field(client: &Client, register: &str, input: Value) -> String {
    let mut input = input;
    input["registerId"] = json!(register);
    let mutation = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { id } }";
    created(client, mutation, json!({ "i": input }), "createCustomField").await
}

/// A transaction on `db` that holds `register`'s row (on SQLite, the
/// database's write lock) until it is rolled back.
pub async fn hold_register(
    db: &sea_orm::DatabaseConnection,
    register: &str,
) -> sea_orm::DatabaseTransaction {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let holder = db.begin().await.expect("begins");
    holder
        .execute_unprepared(&format!(
            "UPDATE registers SET name = name WHERE id = '{register}'"
        ))
        .await
        .expect("takes the row");
    holder
}

pub async fn severity(client: &Client, name: &str) -> String {
    let mutation = "mutation($n: String!) { createSeverity(input: {name: $n}) { id } }";
    created(client, mutation, json!({ "n": name }), "createSeverity").await
}

/// The member id of the client's principal.
pub async fn me(client: &Client) -> String {
    let data = client.ok("{ viewer { member { id } } }", json!({})).await;
    data["viewer"]["member"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// What the outbox holds, oldest first: written in the transactions of the
/// changes, whether or not anything reads it yet.
pub enum Events<'a> {
    Of(&'a Value),
    Caused(&'a str),
}

pub async fn events(app: &TestApp, which: Events<'_>) -> Vec<risk_event::Model> {
    let query = match which {
        Events::Of(risk) => risk_event::Entity::find()
            .filter(risk_event::Column::RiskId.eq(risk.as_str().unwrap_or_default())),
        Events::Caused(cause) => {
            risk_event::Entity::find().filter(risk_event::Column::Cause.eq(cause))
        }
    };
    query
        .order_by_asc(risk_event::Column::Seq)
        .all(&app.app.state.db)
        .await
        .expect("events")
}

/// The fields tests read back from a risk.
pub const RISK_FIELDS: &str = "id identifier title description category notes status stage \
    closureReason closedAt resolutionDurationMinutes likelihoodLevel impactLevel toleranceLevel \
    residualLikelihoodOverride residualImpactOverride residualOverriddenBy { id } residualOverriddenAt residualOverrideReason \
    treatment mitigationTargetAt source sourceId version severity { id name } owner { id } \
    inherent { score band { name } } residual { likelihoodLevel impactLevel score band { name } overridden } \
    targetResidual { score } withinTolerance \
    customFields { field { id name } text number boolean date selection selections user { id } }";
