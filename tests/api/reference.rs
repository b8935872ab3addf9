//! Registers, severities and custom field definitions are kept across
//! requests (`graphql::reference`): a page reads them once, and
//! reads them again as soon as they change, whoever changed them.

use crate::fixtures;
use crate::helpers::{Client, SECRET, TestApp};
use crate::subscriptions::{hour_from_now, spawn_instance, token};
use crate::{both, postgres_only};
use riskgraph::auth::{Claims, mint};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PAGE: &str = "{ risks { nodes {
    owner { name } register { name archived } severity { name }
    customFields { field { name archived } }
} } }";

/// What the one risk's page shows of what it refers to.
async fn shown(client: &Client) -> Value {
    let data = client.ok(PAGE, json!({})).await;
    let risk = &data["risks"]["nodes"][0];
    json!({
        "owner": risk["owner"]["name"],
        "register": risk["register"]["name"],
        "registerArchived": risk["register"]["archived"],
        "severity": risk["severity"]["name"],
        "field": risk["customFields"][0]["field"]["name"],
        "fieldArchived": risk["customFields"][0]["field"]["archived"],
    })
}

/// A register with a severity and a custom field, and a risk that uses
/// both, owned by `admin`: their ids (register, severity, field).
async fn referred(admin: &Client) -> (String, String, String) {
    let me = fixtures::me(admin).await;
    let register = fixtures::register(admin, "RA").await;
    let severity = fixtures::severity(admin, "High").await;
    let field =
        fixtures::custom_field(admin, &register, json!({"name": "Area", "type": "TEXT"})).await;
    fixtures::risk(
        admin,
        &register,
        "one",
        json!({ "severityId": severity, "ownerId": me,
                "customFields": [{ "fieldId": field, "text": "ops" }] }),
    )
    .await;
    (register, severity, field)
}

async fn a_change_to_what_pages_refer_to_is_read_at_once(app: TestApp) {
    let admin = app.admin("acme");
    let (register, severity, field) = referred(&admin).await;
    let mut expected = json!({
        "owner": "admin of acme", "register": "Ops", "registerArchived": false, "severity": "High",
        "field": "Area", "fieldArchived": false,
    });
    assert_eq!(shown(&admin).await, expected);
    // Warm: the page reads none of the three again.
    let before = app.statements();
    assert_eq!(shown(&admin).await, expected);
    let warm = app.statements() - before;

    let changes = [
        (RENAME_SEVERITY, &severity, "severity", json!("Severe")),
        (
            "mutation($id: ID!) { updateRegister(id: $id, input: {name: \"Operations\"}) { id } }",
            &register,
            "register",
            json!("Operations"),
        ),
        (
            "mutation($id: ID!) { updateCustomField(id: $id, input: {name: \"Zone\"}) { id } }",
            &field,
            "field",
            json!("Zone"),
        ),
        (
            "mutation($id: ID!) { archiveCustomField(id: $id) { id } }",
            &field,
            "fieldArchived",
            json!(true),
        ),
        (
            "mutation($id: ID!) { archiveRegister(id: $id) { id } }",
            &register,
            "registerArchived",
            json!(true),
        ),
    ];
    for (mutation, id, what, now) in changes {
        admin.ok(mutation, json!({ "id": id })).await;
        expected[what] = now;
        assert_eq!(shown(&admin).await, expected, "after {mutation}");
    }
    // A member whose token says a new name is renamed as it signs in.
    let claims = Claims {
        sub: "admin".into(),
        org: "acme".into(),
        role: "admin".into(),
        exp: hour_from_now(),
        name: Some("Ada".into()),
        email: None,
    };
    let ada = Client {
        token: Some(mint(SECRET, &claims)),
        ..admin.clone()
    };
    ada.ok("{ __typename }", json!({})).await;
    expected["owner"] = json!("Ada");
    assert_eq!(shown(&admin).await, expected, "after a sign-in as Ada");
    // Reading leaves what it read kept. On PostgreSQL the trigger's
    // notification of the sign-in's own change comes back a moment later
    // and moves the generation once more, so the read may come again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = app.statements();
        shown(&admin).await;
        if app.statements() - before == warm {
            break;
        }
        assert!(Instant::now() < deadline, "reads are never kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asks `client` until the page shows `what` as `value`, for up to 10 s:
/// another instance hears of a change when PostgreSQL delivers its
/// notification, which no client can await.
async fn until_shown(client: &Client, what: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = shown(client).await;
        if now[what] == value {
            return;
        }
        assert!(Instant::now() < deadline, "{what} is still {}", now[what]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `sql` as another client of the database, which riskgraph never
/// hears from.
async fn written_past_riskgraph(database_url: &str, sql: &str) {
    let db = sea_orm::Database::connect(database_url)
        .await
        .expect("connects");
    db.execute_unprepared(sql).await.expect("writes");
}

async fn a_change_any_client_commits_reaches_every_instance(database_url: String) {
    let a = spawn_instance(&database_url).await;
    let b = spawn_instance(&database_url).await;
    let on = |url: &str| Client {
        http: crate::helpers::http_client(),
        url: url.to_owned(),
        token: Some(token("acme", "admin", hour_from_now())),
    };
    let (reader, writer) = (on(&a.url), on(&b.url));
    let (register, severity, _) = referred(&writer).await;
    // Kept by the reading instance.
    assert_eq!(shown(&reader).await["severity"], "High");
    assert_eq!(shown(&reader).await["severity"], "High");

    writer.ok(RENAME_SEVERITY, json!({ "id": severity })).await;
    until_shown(&reader, "severity", "Severe").await;

    let rename = format!("UPDATE registers SET name = 'Renamed' WHERE id = '{register}'");
    written_past_riskgraph(&database_url, &rename).await;
    until_shown(&reader, "register", "Renamed").await;
    drop((a.child, b.child));
}

/// Statements `client` sends to read its page, once its rows are kept.
async fn warm_statements(client: &Client, sent: impl Fn() -> u64) -> u64 {
    shown(client).await;
    let before = sent();
    shown(client).await;
    sent() - before
}

const RENAME_SEVERITY: &str =
    "mutation($id: ID!) { updateSeverity(id: $id, input: {name: \"Severe\"}) { id } }";

/// A change to another organization's rows leaves what is kept of this
/// one's: only the organization that changed reads its rows again.
async fn another_organization_s_change_keeps_this_one_s_rows(app: TestApp) {
    let (acme, globex) = (app.admin("acme"), app.admin("globex"));
    referred(&acme).await;
    let (_, severity, _) = referred(&globex).await;
    let warm = warm_statements(&acme, || app.statements()).await;
    warm_statements(&globex, || app.statements()).await;

    globex.ok(RENAME_SEVERITY, json!({ "id": severity })).await;
    assert_eq!(shown(&globex).await["severity"], "Severe");
    let before = app.statements();
    assert_eq!(shown(&acme).await["severity"], "High");
    assert_eq!(
        app.statements() - before,
        warm,
        "acme's rows are still kept"
    );
}

/// The same across instances: PostgreSQL's notification names the
/// organization whose rows another client of the database changed.
async fn another_instance_hears_which_organization_changed(database_url: String) {
    use crate::operations::{sample, scrape_at};
    let a = spawn_instance(&database_url).await;
    let on = |org: &str| Client {
        http: crate::helpers::http_client(),
        url: a.url.clone(),
        token: Some(token(org, "admin", hour_from_now())),
    };
    let (acme, globex) = (on("acme"), on("globex"));
    referred(&acme).await;
    let (_, severity, _) = referred(&globex).await;
    let http = crate::helpers::http_client();
    let statements = || async {
        let scrape = scrape_at(&http, &a.url).await;
        sample(&scrape, "riskgraph_db_statements_total", &[])
    };
    shown(&acme).await;
    let before = statements().await;
    shown(&acme).await;
    let warm = statements().await - before;
    shown(&globex).await;

    let rename = format!("UPDATE severities SET name = 'Severe' WHERE id = '{severity}'");
    written_past_riskgraph(&database_url, &rename).await;
    // Kept by the instance until it heard of the change.
    until_shown(&globex, "severity", "Severe").await;
    let before = statements().await;
    assert_eq!(shown(&acme).await["severity"], "High");
    assert_eq!(
        statements().await - before,
        warm,
        "acme's rows are still kept"
    );
    drop(a.child);
}

both!(
    a_change_to_what_pages_refer_to_is_read_at_once,
    another_organization_s_change_keeps_this_one_s_rows,
);
postgres_only!(
    a_change_any_client_commits_reaches_every_instance,
    another_instance_hears_which_organization_changed,
);
