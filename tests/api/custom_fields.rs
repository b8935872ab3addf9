use crate::both;
use crate::fixtures::{self, RISK_FIELDS};
use crate::helpers::TestApp;
use serde_json::{Value, json};

both!(
    custom_fields_of_every_type_hold_their_values,
    definitions_are_validated,
    values_are_validated_against_their_field,
    value_updates_are_partial_and_all_null_clears,
    required_fields_must_be_given_on_create,
    archived_fields_leave_the_register,
);

fn value_of<'a>(risk: &'a Value, field_id: &str) -> &'a Value {
    risk["customFields"]
        .as_array()
        .and_then(|values| values.iter().find(|v| v["field"]["id"] == json!(field_id)))
        .unwrap_or(&Value::Null)
}

async fn custom_fields_of_every_type_hold_their_values(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let me = fixtures::me(&admin).await;
    let text =
        fixtures::custom_field(&admin, &register, json!({"name": "Text", "type": "TEXT"})).await;
    let number = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "Loss", "type": "NUMBER", "numberFormat": "PERCENTAGE"}),
    )
    .await;
    let boolean = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "Regulated", "type": "BOOLEAN"}),
    )
    .await;
    let date =
        fixtures::custom_field(&admin, &register, json!({"name": "Review", "type": "DATE"})).await;
    let user = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "Reviewer", "type": "USER"}),
    )
    .await;
    let single = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "Unit", "type": "SINGLE_SELECT", "options": ["EMEA", "APAC"]}),
    )
    .await;
    let multi = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "Tags", "type": "MULTI_SELECT", "options": ["a", "b", "c"]}),
    )
    .await;
    let risk = fixtures::risk(
        &admin,
        &register,
        "t",
        json!({ "customFields": [
            {"fieldId": text, "text": "hello"},
            {"fieldId": number, "number": 42.5},
            {"fieldId": boolean, "boolean": true},
            {"fieldId": date, "date": "2026-12-31"},
            {"fieldId": user, "userId": me},
            {"fieldId": single, "selection": "APAC"},
            {"fieldId": multi, "selections": ["c", "a"]}
        ]}),
    )
    .await;
    assert_eq!(value_of(&risk, &text)["text"], "hello");
    assert_eq!(value_of(&risk, &number)["number"], 42.5);
    assert_eq!(value_of(&risk, &boolean)["boolean"], true);
    assert_eq!(value_of(&risk, &date)["date"], "2026-12-31");
    assert_eq!(value_of(&risk, &user)["user"]["id"], json!(me));
    assert_eq!(value_of(&risk, &single)["selection"], "APAC");
    assert_eq!(value_of(&risk, &multi)["selections"], json!(["c", "a"]));
    let defs = admin
        .ok(
            "query($id: ID!) { register(id: $id) { customFields { name type numberFormat options required position } } }",
            json!({ "id": register }),
        )
        .await;
    let defs = &defs["register"]["customFields"];
    assert_eq!(
        defs[1],
        json!({"name": "Loss", "type": "NUMBER", "numberFormat": "PERCENTAGE", "options": null, "required": false, "position": 1})
    );
    assert_eq!(defs[5]["options"], json!(["EMEA", "APAC"]));
}

async fn definitions_are_validated(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let create = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { id } }";
    let cases = [
        (json!({"name": "", "type": "TEXT"}), "name"),
        (json!({"name": "S", "type": "SINGLE_SELECT"}), "options"),
        (
            json!({"name": "S", "type": "MULTI_SELECT", "options": ["a", "a"]}),
            "options[1]",
        ),
        (
            json!({"name": "T", "type": "TEXT", "options": ["a"]}),
            "options",
        ),
        (
            json!({"name": "T", "type": "TEXT", "numberFormat": "DECIMAL"}),
            "numberFormat",
        ),
    ];
    for (mut input, field) in cases {
        input["registerId"] = json!(register);
        admin
            .err(create, json!({ "i": input }))
            .await
            .assert("BAD_USER_INPUT", Some(field));
    }
    fixtures::custom_field(&admin, &register, json!({"name": "Dup", "type": "TEXT"})).await;
    admin
        .err(
            create,
            json!({ "i": {"registerId": register, "name": "Dup", "type": "NUMBER"} }),
        )
        .await
        .assert("CONFLICT", Some("name"));
    let select = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "Sel", "type": "SINGLE_SELECT", "options": ["x"]}),
    )
    .await;
    let updated = admin
        .ok(
            r#"mutation($id: ID!) { updateCustomField(id: $id, input: {options: ["x", "y"], required: true}) { options required name } }"#,
            json!({ "id": select }),
        )
        .await;
    assert_eq!(
        updated["updateCustomField"],
        json!({"options": ["x", "y"], "required": true, "name": "Sel"})
    );
}

async fn values_are_validated_against_their_field(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let other_register = fixtures::register(&admin, "OB").await;
    let number = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "N", "type": "NUMBER", "numberFormat": "PERCENTAGE"}),
    )
    .await;
    let single = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "S", "type": "SINGLE_SELECT", "options": ["a"]}),
    )
    .await;
    let user =
        fixtures::custom_field(&admin, &register, json!({"name": "U", "type": "USER"})).await;
    let elsewhere = fixtures::custom_field(
        &admin,
        &other_register,
        json!({"name": "E", "type": "TEXT"}),
    )
    .await;
    let outsider = fixtures::me(&app.admin("globex")).await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    let update = format!(
        "mutation($id: ID!, $input: UpdateRiskInput!) {{ updateRisk(id: $id, input: $input) {{ {RISK_FIELDS} }} }}"
    );
    let cases = [
        (
            json!({"fieldId": number, "text": "12"}),
            "customFields[0].text",
        ),
        (
            json!({"fieldId": number, "number": 101}),
            "customFields[0].number",
        ),
        (
            json!({"fieldId": single, "selection": "b"}),
            "customFields[0].selection",
        ),
        (
            json!({"fieldId": user, "userId": outsider}),
            "customFields[0].userId",
        ),
        (
            json!({"fieldId": elsewhere, "text": "x"}),
            "customFields[0].fieldId",
        ),
    ];
    for (value, field) in cases {
        admin
            .err(
                &update,
                json!({ "id": risk["id"], "input": { "customFields": [value] } }),
            )
            .await
            .assert("BAD_USER_INPUT", Some(field));
    }
}

async fn value_updates_are_partial_and_all_null_clears(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let a = fixtures::custom_field(&admin, &register, json!({"name": "A", "type": "TEXT"})).await;
    let b = fixtures::custom_field(&admin, &register, json!({"name": "B", "type": "NUMBER"})).await;
    let risk = fixtures::risk(
        &admin,
        &register,
        "t",
        json!({ "customFields": [{"fieldId": a, "text": "keep"}, {"fieldId": b, "number": 1}] }),
    )
    .await;
    let update = format!(
        "mutation($id: ID!, $input: UpdateRiskInput!) {{ updateRisk(id: $id, input: $input) {{ {RISK_FIELDS} }} }}"
    );
    let changed = admin
        .ok(
            &update,
            json!({ "id": risk["id"], "input": { "customFields": [{"fieldId": b, "number": 2}] } }),
        )
        .await["updateRisk"]
        .clone();
    assert_eq!(value_of(&changed, &a)["text"], "keep");
    assert_eq!(value_of(&changed, &b)["number"], 2.0);
    let cleared = admin
        .ok(&update, json!({ "id": risk["id"], "input": { "customFields": [{"fieldId": b, "number": null}] } }))
        .await["updateRisk"]
        .clone();
    assert_eq!(value_of(&cleared, &a)["text"], "keep");
    assert!(value_of(&cleared, &b).is_null());
}

async fn required_fields_must_be_given_on_create(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let required = fixtures::custom_field(
        &admin,
        &register,
        json!({"name": "Owner unit", "type": "TEXT", "required": true}),
    )
    .await;
    admin
        .err(
            "mutation($r: ID!) { createRisk(input: {registerId: $r, title: \"t\"}) { id } }",
            json!({ "r": register }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("customFields"));
    let risk = fixtures::risk(
        &admin,
        &register,
        "t",
        json!({ "customFields": [{"fieldId": required, "text": "Ops"}] }),
    )
    .await;
    admin
        .err(
            "mutation($id: ID!, $f: ID!) { updateRisk(id: $id, input: {customFields: [{fieldId: $f, text: null}]}) { id } }",
            json!({ "id": risk["id"], "f": required }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("customFields[0]"));
}

async fn archived_fields_leave_the_register(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let old =
        fixtures::custom_field(&admin, &register, json!({"name": "Old", "type": "TEXT"})).await;
    let archived = admin
        .ok(
            "mutation($id: ID!) { archiveCustomField(id: $id) { archived } }",
            json!({ "id": old }),
        )
        .await;
    assert_eq!(archived["archiveCustomField"]["archived"], true);
    let data = admin
        .ok(
            "query($id: ID!) { register(id: $id) { live: customFields { id } all: customFields(includeArchived: true) { id } } }",
            json!({ "id": register }),
        )
        .await;
    assert_eq!(data["register"]["live"], json!([]));
    assert_eq!(data["register"]["all"], json!([{ "id": old }]));
}
