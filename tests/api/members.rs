//! `members` for owner pickers and `createMember` before a first sign-in.

use crate::both;
use crate::fixtures;
use crate::helpers::{Client, TestApp};
use serde_json::{Value, json};

both!(
    members_are_listed_by_name_in_pages_and_searched,
    a_member_added_ahead_owns_risks_and_signs_in_as_itself,
    adding_a_member_is_checked,
);

const MEMBERS: &str = "query($s: String, $first: Int, $after: String) {
    members(search: $s, first: $first, after: $after) {
        nodes { id name email role } edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage endCursor } } }";

const CREATE: &str =
    "mutation($i: CreateMemberInput!) { createMember(input: $i) { id name email role } }";

async fn add(client: &Client, input: Value) -> Value {
    client.ok(CREATE, json!({ "i": input })).await["createMember"].clone()
}

/// The names (or, for a member without one, the email) of a page.
fn names(page: &Value) -> Vec<String> {
    page["members"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|m| {
            m["name"]
                .as_str()
                .or(m["email"].as_str())
                .unwrap_or("(none)")
                .to_owned()
        })
        .collect()
}

async fn members_are_listed_by_name_in_pages_and_searched(app: TestApp) {
    let admin = app.admin("acme");
    fixtures::me(&admin).await;
    add(
        &admin,
        json!({ "subject": "z", "name": "Zoe", "email": "zoe@acme.test", "role": "EDITOR" }),
    )
    .await;
    add(
        &admin,
        json!({ "subject": "b", "name": "bob", "role": "VIEWER" }),
    )
    .await;
    add(
        &admin,
        json!({ "subject": "c", "email": "carol@acme.test", "role": "VIEWER" }),
    )
    .await;
    admin
        .ok(
            r#"mutation { createApiKey(input: {name: "CI", role: EDITOR}) { secret } }"#,
            json!({}),
        )
        .await;
    fixtures::me(&app.admin("globex")).await;

    let first = admin.ok(MEMBERS, json!({ "first": 2 })).await;
    assert_eq!(
        names(&first),
        ["admin of acme", "bob"],
        "by name, ignoring case"
    );
    let info = &first["members"]["pageInfo"];
    assert_eq!(
        (
            info["hasNextPage"].as_bool(),
            info["hasPreviousPage"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let second = admin
        .ok(MEMBERS, json!({ "first": 2, "after": info["endCursor"] }))
        .await;
    assert_eq!(
        names(&second),
        ["carol@acme.test", "Zoe"],
        "API keys and other organizations are not people here"
    );
    assert_eq!(second["members"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(second["members"]["pageInfo"]["hasPreviousPage"], true);

    for (search, found) in [
        ("ZOE", vec!["Zoe"]),
        ("acme.test", vec!["carol@acme.test", "Zoe"]),
        ("%", vec![]),
    ] {
        let page = admin.ok(MEMBERS, json!({ "s": search })).await;
        assert_eq!(names(&page), found, "search {search:?}");
    }
    let viewer = app.client("acme", "v", "viewer");
    assert_eq!(
        names(&viewer.ok(MEMBERS, json!({ "s": "bob" })).await),
        ["bob"]
    );
}

async fn a_member_added_ahead_owns_risks_and_signs_in_as_itself(app: TestApp) {
    let admin = app.admin("acme");
    let dana = add(
        &admin,
        json!({ "subject": "dana", "name": "Dana", "email": "dana@acme.test", "role": "EDITOR" }),
    )
    .await;
    assert_eq!(dana["role"], "EDITOR");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(
        &admin,
        &register,
        "Owned ahead",
        json!({ "ownerId": dana["id"] }),
    )
    .await;
    assert_eq!(risk["owner"]["id"], dana["id"]);
    // Her first token (named, without an email claim) signs in as the
    // member added for her: the token's name wins, the email stays.
    let her = app.client("acme", "dana", "viewer");
    let me = her
        .ok("{ viewer { member { id name email role } } }", json!({}))
        .await;
    assert_eq!(
        me["viewer"]["member"],
        json!({ "id": dana["id"], "name": "dana of acme", "email": "dana@acme.test", "role": "VIEWER" })
    );
    let owned = her
        .ok(
            "query($r: ID!, $o: [ID!]) { risks(filter: {registerId: $r, ownerId: $o}) { nodes { title } } }",
            json!({ "r": register, "o": [dana["id"]] }),
        )
        .await;
    assert_eq!(owned["risks"]["nodes"], json!([{ "title": "Owned ahead" }]));
}

async fn adding_a_member_is_checked(app: TestApp) {
    let admin = app.admin("acme");
    add(&admin, json!({ "subject": "dana", "role": "EDITOR" })).await;
    let cases = [
        (
            json!({ "subject": "dana", "role": "VIEWER" }),
            "CONFLICT",
            Some("subject"),
        ),
        (
            json!({ "subject": "  ", "role": "VIEWER" }),
            "BAD_USER_INPUT",
            Some("subject"),
        ),
        (
            json!({ "subject": "api-key:x", "role": "VIEWER" }),
            "BAD_USER_INPUT",
            Some("subject"),
        ),
        (
            json!({ "subject": "e", "email": "not mail", "role": "VIEWER" }),
            "BAD_USER_INPUT",
            Some("email"),
        ),
        (
            json!({ "subject": "f", "name": "n".repeat(129), "role": "VIEWER" }),
            "BAD_USER_INPUT",
            Some("name"),
        ),
    ];
    for (input, code, field) in cases {
        admin
            .err(CREATE, json!({ "i": input }))
            .await
            .assert(code, field);
    }
    app.client("acme", "ed", "editor")
        .err(CREATE, json!({ "i": { "subject": "g", "role": "ADMIN" } }))
        .await
        .assert("FORBIDDEN", None);
    admin
        .err(MEMBERS, json!({ "after": "not-a-cursor" }))
        .await
        .assert("BAD_USER_INPUT", Some("after"));
    admin
        .err(MEMBERS, json!({ "first": 501 }))
        .await
        .assert("LIMIT_EXCEEDED", None);
}
