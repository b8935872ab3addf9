use crate::both;
use crate::fixtures::{self, RISK_FIELDS};
use crate::helpers::TestApp;
use serde_json::json;

both!(
    a_new_register_gets_the_default_5x5,
    registers_take_presets_and_custom_scales,
    invalid_scales_are_refused_with_the_field,
    register_updates_are_partial,
    scales_that_strand_levels_are_refused_and_change_nothing,
    new_scales_reband_risks,
    archived_registers_leave_the_list,
    identifiers_count_up_and_are_never_reused,
    concurrent_creates_get_distinct_identifiers,
);

async fn a_new_register_gets_the_default_5x5(app: TestApp) {
    let admin = app.admin("acme");
    let data = admin
        .ok(
            r#"mutation { createRegister(input: {name: "IT", identifierPrefix: "IT"}) {
                name identifierPrefix archived version
                scales { likelihood { level value } impact { value } bands { level name threshold color } matrix }
            } }"#,
            json!({}),
        )
        .await;
    let r = &data["createRegister"];
    assert_eq!(r["version"], 1);
    assert_eq!(r["scales"]["likelihood"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        r["scales"]["likelihood"][4],
        json!({"level": 4, "value": 5.0})
    );
    let bands: Vec<(&str, f64)> = r["scales"]["bands"]
        .as_array()
        .expect("bands")
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap_or(""),
                b["threshold"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(
        bands,
        vec![
            ("Low", 0.0),
            ("Medium", 5.0),
            ("High", 10.0),
            ("Critical", 17.0)
        ]
    );
    assert!(r["scales"]["matrix"].is_null());
}

async fn registers_take_presets_and_custom_scales(app: TestApp) {
    let admin = app.admin("acme");
    let nist = admin
        .ok(
            r#"mutation { createRegister(input: {name: "NIST", identifierPrefix: "N", preset: NIST_800_30}) {
                scales { likelihood { value } matrix } } }"#,
            json!({}),
        )
        .await;
    let values: Vec<f64> = nist["createRegister"]["scales"]["likelihood"]
        .as_array()
        .expect("levels")
        .iter()
        .filter_map(|l| l["value"].as_f64())
        .collect();
    assert_eq!(values, vec![1.0, 2.0, 5.0, 8.0, 10.0]);
    assert_eq!(
        nist["createRegister"]["scales"]["matrix"][0],
        json!([0, 0, 0, 1, 1])
    );

    let custom = admin
        .ok(
            r#"mutation($s: RiskScalesInput!) { createRegister(input: {name: "Two", identifierPrefix: "T", scales: $s}) {
                scales { likelihood { name } bands { name } } } }"#,
            json!({ "s": {
                "likelihood": [{"name": "Low", "value": 1}, {"name": "High", "value": 2}],
                "impact": [{"name": "Low", "value": 1}, {"name": "High", "value": 3}],
                "bands": [{"name": "Fine", "threshold": 0, "color": "#0f0"}, {"name": "Bad", "threshold": 3, "color": "#f00"}]
            }}),
        )
        .await;
    assert_eq!(
        custom["createRegister"]["scales"]["bands"][1]["name"],
        "Bad"
    );
}

async fn invalid_scales_are_refused_with_the_field(app: TestApp) {
    let admin = app.admin("acme");
    let create = r#"mutation($s: RiskScalesInput!) { createRegister(input: {name: "X", identifierPrefix: "X", scales: $s}) { id } }"#;
    let level = |v: f64| json!({"name": "L", "value": v});
    let band = |t: f64| json!({"name": "B", "threshold": t, "color": "#000"});
    let cases = [
        (
            json!({"likelihood": [], "impact": [level(1.0)], "bands": [band(0.0)]}),
            "scales.likelihood",
        ),
        (
            json!({"likelihood": [level(2.0), level(1.0)], "impact": [level(1.0)], "bands": [band(0.0)]}),
            "scales.likelihood[1].value",
        ),
        (
            json!({"likelihood": [level(-1.0)], "impact": [level(1.0)], "bands": [band(0.0)]}),
            "scales.likelihood[0].value",
        ),
        (
            json!({"likelihood": [level(1.0)], "impact": [level(1.0)], "bands": [band(1.0)]}),
            "scales.bands[0].threshold",
        ),
        (
            json!({"likelihood": [level(1.0)], "impact": [level(1.0)], "bands": [band(0.0), band(0.0)]}),
            "scales.bands[1].threshold",
        ),
        (
            json!({"likelihood": [level(1.0)], "impact": [level(1.0)], "bands": [band(0.0)], "matrix": [[3]]}),
            "scales.matrix[0][0]",
        ),
    ];
    for (scales, field) in cases {
        admin
            .err(create, json!({ "s": scales }))
            .await
            .assert("BAD_USER_INPUT", Some(field));
    }
    admin
        .err(
            r#"mutation { createRegister(input: {name: "X", identifierPrefix: "A B"}) { id } }"#,
            json!({}),
        )
        .await
        .assert("BAD_USER_INPUT", Some("identifierPrefix"));
    let none = admin.ok("{ registers { id } }", json!({})).await;
    assert_eq!(none["registers"], json!([]));
}

async fn register_updates_are_partial(app: TestApp) {
    let admin = app.admin("acme");
    let id = admin
        .ok(
            r#"mutation { createRegister(input: {name: "IT", description: "keep me", identifierPrefix: "IT"}) { id } }"#,
            json!({}),
        )
        .await["createRegister"]["id"]
        .clone();
    let updated = admin
        .ok(
            r#"mutation($id: ID!) { updateRegister(id: $id, input: {name: "IT risks"}) { name description version } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        updated["updateRegister"],
        json!({"name": "IT risks", "description": "keep me", "version": 2})
    );
    let cleared = admin
        .ok(
            r#"mutation($id: ID!) { updateRegister(id: $id, input: {description: null}) { description } }"#,
            json!({ "id": id }),
        )
        .await;
    assert!(cleared["updateRegister"]["description"].is_null());
    admin
        .err(
            r#"mutation($id: ID!) { updateRegister(id: $id, input: {name: "x"}, expectedVersion: 1) { name } }"#,
            json!({ "id": id }),
        )
        .await
        .assert("CONFLICT", Some("expectedVersion"));
}

async fn scales_that_strand_levels_are_refused_and_change_nothing(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    fixtures::risk(
        &admin,
        &register,
        "High likelihood",
        json!({"likelihoodLevel": 4, "impactLevel": 1}),
    )
    .await;
    fixtures::risk(
        &admin,
        &register,
        "Low",
        json!({"likelihoodLevel": 0, "impactLevel": 0}),
    )
    .await;
    let three = json!({
        "likelihood": [{"name": "L", "value": 1}, {"name": "M", "value": 2}, {"name": "H", "value": 3}],
        "impact": [{"name": "L", "value": 1}, {"name": "M", "value": 2}, {"name": "H", "value": 3}],
        "bands": [{"name": "Low", "threshold": 0, "color": "#0f0"}]
    });
    let err = admin
        .err(
            "mutation($id: ID!, $s: RiskScalesInput!) { updateRegister(id: $id, input: {scales: $s}) { id } }",
            json!({ "id": register, "s": three }),
        )
        .await;
    err.assert("BAD_USER_INPUT", Some("scales"));
    assert!(err.message.contains("1 risk"), "{}", err.message);
    let after = admin
        .ok(
            "query($id: ID!) { register(id: $id) { version scales { likelihood { name } } } }",
            json!({ "id": register }),
        )
        .await;
    assert_eq!(after["register"]["version"], 1);
    assert_eq!(
        after["register"]["scales"]["likelihood"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
}

async fn new_scales_reband_risks(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(
        &admin,
        &register,
        "Mid",
        json!({"likelihoodLevel": 2, "impactLevel": 2}),
    )
    .await;
    assert_eq!(risk["residual"]["band"]["name"], "Medium");
    let five = |name: &str| {
        json!(
            (1..=5)
                .map(|v| json!({"name": format!("{name}{v}"), "value": v}))
                .collect::<Vec<_>>()
        )
    };
    let scales = json!({
        "likelihood": five("L"), "impact": five("I"),
        "bands": [
            {"name": "Calm", "threshold": 0, "color": "#0f0"},
            {"name": "Watch", "threshold": 4, "color": "#ff0"},
            {"name": "Alarm", "threshold": 9, "color": "#f00"}
        ]
    });
    admin
        .ok(
            "mutation($id: ID!, $s: RiskScalesInput!) { updateRegister(id: $id, input: {scales: $s}) { version } }",
            json!({ "id": register, "s": scales }),
        )
        .await;
    let after = admin
        .ok(
            &format!("query($id: ID!) {{ risk(id: $id) {{ {RISK_FIELDS} }} }}"),
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(after["risk"]["residual"]["band"]["name"], "Alarm");
    assert_eq!(after["risk"]["inherent"]["band"]["name"], "Alarm");
    assert_eq!(after["risk"]["version"], 2);
}

async fn archived_registers_leave_the_list(app: TestApp) {
    let admin = app.admin("acme");
    let keep = fixtures::register(&admin, "K").await;
    let gone = fixtures::register(&admin, "G").await;
    let archived = admin
        .ok(
            "mutation($id: ID!) { archiveRegister(id: $id) { archived } }",
            json!({ "id": gone }),
        )
        .await;
    assert_eq!(archived["archiveRegister"]["archived"], true);
    let list = admin
        .ok(
            "{ registers { id } all: registers(includeArchived: true) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(list["registers"], json!([{ "id": keep }]));
    assert_eq!(list["all"].as_array().map(Vec::len), Some(2));
    admin
        .err(
            r#"mutation($r: ID!) { createRisk(input: {registerId: $r, title: "late"}) { id } }"#,
            json!({ "r": gone }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("registerId"));
}

async fn identifiers_count_up_and_are_never_reused(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let first = fixtures::risk(&admin, &register, "one", json!({})).await;
    let second = fixtures::risk(&admin, &register, "two", json!({})).await;
    assert_eq!(
        (first["identifier"].as_str(), second["identifier"].as_str()),
        (Some("RA-1"), Some("RA-2"))
    );
    admin
        .ok(
            "mutation($id: ID!) { deleteRisk(id: $id) }",
            json!({ "id": second["id"] }),
        )
        .await;
    // A hand-given identifier takes the next number: the counter skips it.
    fixtures::risk(&admin, &register, "manual", json!({"identifier": "RA-3"})).await;
    let next = fixtures::risk(&admin, &register, "three", json!({})).await;
    assert_eq!(next["identifier"], "RA-4");
    admin
        .err(
            r#"mutation($r: ID!) { createRisk(input: {registerId: $r, title: "dup", identifier: "RA-1"}) { id } }"#,
            json!({ "r": register }),
        )
        .await
        .assert("CONFLICT", Some("identifier"));
    admin
        .err(
            r#"mutation($id: ID!) { updateRisk(id: $id, input: {identifier: "RA-1"}) { id } }"#,
            json!({ "id": next["id"] }),
        )
        .await
        .assert("CONFLICT", Some("identifier"));
}

async fn concurrent_creates_get_distinct_identifiers(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "C").await;
    let creates = (0..12).map(|i| {
        let admin = admin.clone();
        let register = register.clone();
        tokio::spawn(async move {
            let (_, body) = admin
                .post(
                    "mutation($r: ID!, $t: String!) { createRisk(input: {registerId: $r, title: $t}) { identifier } }",
                    json!({ "r": register, "t": format!("risk {i}") }),
                )
                .await;
            body
        })
    });
    let mut identifiers = Vec::new();
    for create in creates {
        let body = create.await.expect("task");
        let id = body["data"]["createRisk"]["identifier"].as_str();
        identifiers.push(
            id.unwrap_or_else(|| panic!("create failed: {body}"))
                .to_owned(),
        );
    }
    identifiers.sort_by_key(|id| id[2..].parse::<u32>().unwrap_or(0));
    let expected: Vec<String> = (1..=12).map(|n| format!("C-{n}")).collect();
    assert_eq!(identifiers, expected);
}
