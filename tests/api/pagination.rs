use crate::both;
use crate::fixtures;
use crate::helpers::{Client, Run, TestApp, run_of, the_ordered_read};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

both!(
    pages_forward_and_backward_cover_every_risk_once,
    filters_search_and_sorts_combine,
    page_sizes_are_bounded,
    a_nested_page_costs_a_bounded_number_of_statements,
    a_cursor_holds_only_its_sort_keys,
    a_page_binds_only_what_the_request_says,
    a_page_answers_each_field_as_whole_rows_do,
    a_page_past_its_cursor_starts_there_in_any_order,
);

/// 23 risks with scores 1..25 and some unscored, in two registers.
async fn seed(app: &TestApp) -> (Client, String) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let other = fixtures::register(&admin, "OB").await;
    for n in 0..23 {
        let levels = if n % 7 == 3 {
            json!({})
        } else {
            json!({"likelihoodLevel": n % 5, "impactLevel": (n / 5) % 5})
        };
        let mut extra = levels;
        extra["category"] = json!(if n % 2 == 0 { "Security" } else { "Finance" });
        fixtures::risk(&admin, &register, &format!("Risk {n:02}"), extra).await;
    }
    fixtures::risk(&admin, &other, "Elsewhere", json!({})).await;
    (admin, register)
}

const PAGE: &str = r#"query($f: RiskFilter, $o: [RiskOrder!], $first: Int, $after: String, $last: Int, $before: String, $s: String) {
    risks(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before, search: $s) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { title residual { score } } }
    } }"#;

fn titles(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn walk(client: &Client, vars: Value, forward: bool, size: i64) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let mut v = vars.clone();
        if forward {
            v["first"] = json!(size);
            v["after"] = cursor.clone();
        } else {
            v["last"] = json!(size);
            v["before"] = cursor.clone();
        }
        let page = client.ok(PAGE, v).await["risks"].clone();
        let mut batch = titles(&page);
        assert!(batch.len() <= usize::try_from(size).unwrap_or(0));
        let more = if forward {
            cursor = page["pageInfo"]["endCursor"].clone();
            page["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false)
        } else {
            cursor = page["pageInfo"]["startCursor"].clone();
            batch.reverse();
            page["pageInfo"]["hasPreviousPage"]
                .as_bool()
                .unwrap_or(false)
        };
        seen.extend(batch);
        if !more {
            break;
        }
    }
    if !forward {
        seen.reverse();
    }
    seen
}

async fn pages_forward_and_backward_cover_every_risk_once(app: TestApp) {
    let (admin, register) = seed(&app).await;
    let filter = json!({ "registerId": register });
    for order in [
        json!(null),
        json!([{ "field": "RESIDUAL_SCORE", "direction": "DESC" }, { "field": "TITLE" }]),
        json!([{ "field": "INHERENT_SCORE" }]),
        json!([{ "field": "RESIDUAL_SCORE", "direction": "DESC" }]),
        json!([{ "field": "IDENTIFIER", "direction": "DESC" }]),
        // Keys that run one way: the cursor's range compares them as a row,
        // up to a key that can be null.
        json!([{ "field": "RESIDUAL_SCORE" }, { "field": "CREATED_AT" }]),
        json!([{ "field": "INHERENT_SCORE", "direction": "DESC" }, { "field": "RESIDUAL_SCORE", "direction": "DESC" }]),
        json!([{ "field": "TITLE", "direction": "DESC" }, { "field": "UPDATED_AT", "direction": "DESC" }]),
    ] {
        let vars = json!({ "f": filter, "o": order });
        let all = admin
            .ok(PAGE, json!({ "f": filter, "o": order, "first": 100 }))
            .await["risks"]
            .clone();
        let expected = titles(&all);
        assert_eq!(expected.len(), 23);
        assert_eq!(all["totalCount"], 23);
        assert_eq!(
            walk(&admin, vars.clone(), true, 5).await,
            expected,
            "forward by {order}"
        );
        assert_eq!(
            walk(&admin, vars, false, 4).await,
            expected,
            "backward by {order}"
        );
    }
    // A page by a score reads the scored and the unscored risks apart; one
    // that starts past the first of the two (among the unscored going
    // forward, among the scored going backward) reads only the other, in
    // as many statements as a first page.
    let order = json!([{ "field": "RESIDUAL_SCORE", "direction": "DESC" }]);
    let all = admin
        .ok(PAGE, json!({ "f": filter, "o": order, "first": 100 }))
        .await["risks"]["edges"]
        .clone();
    let edges = all.as_array().expect("edges");
    let unscored = &edges[edges.len() - 2];
    assert!(unscored["node"]["residual"]["score"].is_null());
    let (app, client) = (&app, &admin);
    let spent = |vars: Value| async move {
        client.ok(PAGE, vars.clone()).await;
        let before = app.statements();
        let page = client.ok(PAGE, vars).await["risks"].clone();
        (app.statements() - before, titles(&page))
    };
    let (first, _) = spent(json!({ "f": filter, "o": order, "first": 2 })).await;
    let (forward, titles_forward) =
        spent(json!({ "f": filter, "o": order, "first": 2, "after": unscored["cursor"] })).await;
    let (backward, titles_backward) =
        spent(json!({ "f": filter, "o": order, "last": 2, "before": edges[3]["cursor"] })).await;
    assert_eq!(titles_forward.len(), 1);
    assert_eq!(titles_backward.len(), 2);
    assert_eq!((forward, backward), (first, first));
    // Scores sort either way with unscored risks last.
    for direction in ["DESC", "ASC"] {
        let by_score = admin
            .ok(PAGE, json!({ "f": filter, "o": [{ "field": "RESIDUAL_SCORE", "direction": direction }], "first": 100 }))
            .await["risks"]
            .clone();
        let scores: Vec<Value> = by_score["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["residual"]["score"].clone())
            .collect();
        let scored: Vec<f64> = scores.iter().filter_map(Value::as_f64).collect();
        let sorted = scored.windows(2).all(|w| {
            if direction == "DESC" {
                w[0] >= w[1]
            } else {
                w[0] <= w[1]
            }
        });
        assert!(sorted, "{direction}: {scores:?}");
        assert!(
            scores[scored.len()..].iter().all(Value::is_null),
            "{direction}: {scores:?}"
        );
    }
}

async fn filters_search_and_sorts_combine(app: TestApp) {
    let (admin, register) = seed(&app).await;
    let data = admin
        .ok(
            PAGE,
            json!({
                "f": { "registerId": register, "category": ["Security"], "residualScoreMin": 4 },
                "o": [{ "field": "TITLE", "direction": "DESC" }],
                "first": 100
            }),
        )
        .await["risks"]
        .clone();
    let got = titles(&data);
    assert!(!got.is_empty());
    let mut sorted = got.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(got, sorted);
    assert_eq!(data["totalCount"], json!(got.len()));
    // Every match, and only matches: check against the unfiltered list.
    let everything = admin
        .ok(
            "{ risks(first: 100) { nodes { title category residual { score } } } }",
            json!({}),
        )
        .await;
    let expected = everything["risks"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|r| {
            r["category"] == "Security" && r["residual"]["score"].as_f64().is_some_and(|s| s >= 4.0)
        })
        .count();
    assert_eq!(got.len(), expected);

    let searched = admin.ok(PAGE, json!({ "s": "risk 1", "first": 100 })).await["risks"].clone();
    assert_eq!(searched["totalCount"], 10, "Risk 10..19");
    let by_identifier = admin.ok(PAGE, json!({ "s": "ra-2", "first": 100 })).await["risks"].clone();
    // RA-2 and RA-20..RA-23.
    assert_eq!(by_identifier["totalCount"], 5);
    let percent = admin.ok(PAGE, json!({ "s": "%", "first": 100 })).await["risks"].clone();
    assert_eq!(percent["totalCount"], 0);
}

/// Checked whether or not the answer shows the page: a count alone reads
/// none, and is refused the same.
async fn page_sizes_are_bounded(app: TestApp) {
    let admin = app.admin("acme");
    let count = "query($first: Int, $after: String, $last: Int) { risks(first: $first, after: $after, last: $last) { totalCount } }";
    for query in [PAGE, count] {
        admin
            .err(query, json!({ "first": 501 }))
            .await
            .assert("LIMIT_EXCEEDED", None);
        admin
            .err(query, json!({ "first": -1 }))
            .await
            .assert("BAD_USER_INPUT", Some("first"));
        admin
            .err(query, json!({ "after": "garbage" }))
            .await
            .assert("BAD_USER_INPUT", Some("after"));
        admin
            .err(query, json!({ "first": 2, "last": 2 }))
            .await
            .assert("BAD_USER_INPUT", Some("last"));
    }
}

async fn a_nested_page_costs_a_bounded_number_of_statements(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let severity = fixtures::severity(&admin, "High").await;
    let me = fixtures::me(&admin).await;
    // Reviewers other than the owner, so members come from two places.
    let mut reviewers = Vec::new();
    for n in 0..3 {
        reviewers.push(fixtures::me(&app.client("acme", &format!("reviewer{n}"), "viewer")).await);
    }
    let field = admin
        .ok(
            "mutation($r: ID!) { createCustomField(input: {registerId: $r, name: \"Reviewer\", type: USER}) { id } }",
            json!({ "r": register }),
        )
        .await["createCustomField"]["id"]
        .clone();
    let control = fixtures::control(&admin, json!({"name": "MFA", "effectiveness": 0.5})).await;
    for n in 0..50 {
        let risk = fixtures::risk(
            &admin,
            &register,
            &format!("r{n}"),
            json!({ "severityId": severity, "ownerId": me, "likelihoodLevel": n % 5, "impactLevel": 2,
                    "customFields": [{ "fieldId": field, "userId": reviewers[n % 3] }] }),
        )
        .await;
        if n % 2 == 0 {
            fixtures::link(&admin, &risk, &control, "").await;
        }
    }
    // The dashboard page of DESIGN §9.
    let query = r#"{ risks(first: 50) { nodes {
        title owner { name } severity { name } register { name scales { bands { name } } }
        createdBy { name } residual { score band { name } } inherent { score }
        controls { strength reduces control { name health } }
        customFields { field { name type } user { name } }
    } } }"#;
    // Warm-up: the member is known, so the count below is steady state.
    admin.ok(query, json!({})).await;
    let before = app.statements();
    let data = admin.ok(query, json!({})).await;
    let spent = app.statements() - before;
    let nodes = data["risks"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 50);
    assert!(
        nodes
            .iter()
            .any(|n| n["customFields"][0]["user"]["name"] == "reviewer1 of acme")
    );
    // The page, values, links + controls: the principal, the members, the
    // register, the severity and the field definitions are known from the
    // warm-up.
    assert!(spent <= 3, "a page of 50 took {spent} statements");
    // A page of 5 costs the same: the statements do not grow with its size.
    let before = app.statements();
    admin
        .ok(&query.replace("first: 50", "first: 5"), json!({}))
        .await;
    assert_eq!(app.statements() - before, spent);
    // So does a page through the richer filters: each is part of the one
    // statement that reads the page.
    let filtered = query.replace(
        "risks(first: 50)",
        r#"risks(first: 50, search: "r", filter: {severityReference: ["HIGH"], overdue: false,
            createdAt: {from: "2000-01-01T00:00:00Z"}, treatment: [NOT_SET]})"#,
    );
    let before = app.statements();
    let data = admin.ok(&filtered, json!({})).await;
    assert_eq!(app.statements() - before, spent);
    assert_eq!(data["risks"]["nodes"].as_array().map(Vec::len), Some(50));
}

async fn a_cursor_holds_only_its_sort_keys(app: TestApp) {
    let (admin, register) = seed(&app).await;
    let variables = json!({
        "f": { "registerId": register },
        "o": [{ "field": "RESIDUAL_SCORE", "direction": "DESC" }],
        "first": 3,
    });
    let page = admin.ok(PAGE, variables.clone()).await;
    let edge = page["risks"]["edges"][1].clone();
    let cursor = edge["cursor"].as_str().expect("cursor");
    // The score and the id, not the row.
    assert!(cursor.len() < 80, "cursor of {} bytes", cursor.len());
    let id = admin
        .ok(
            &format!("{{ risks(filter: {{registerId: \"{register}\"}}, orderBy: [{{field: RESIDUAL_SCORE, direction: DESC}}], first: 3) {{ nodes {{ id }} }} }}"),
            json!({}),
        )
        .await["risks"]["nodes"][1]["id"]
        .clone();
    // Everything about the risk but its score changes; its cursor does not.
    admin
        .ok(
            "mutation($id: ID!) { updateRisk(id: $id, input: {title: \"Renamed\", notes: \"n\", category: \"Ops\"}) { version } }",
            json!({ "id": id }),
        )
        .await;
    let again = admin.ok(PAGE, variables).await;
    assert_eq!(again["risks"]["edges"][1]["cursor"], edge["cursor"]);
    assert_eq!(again["risks"]["edges"][1]["node"]["title"], "Renamed");
}

/// The page's size and the leaving out of archived risks are written into
/// its SQL; the request's own values are bound. Bound, they hid from
/// PostgreSQL's generic plan that a page reads a few rows, so it planned
/// every page afresh (`risk_query::limited`).
async fn a_page_binds_only_what_the_request_says(app: TestApp) {
    let (admin, register) = seed(&app).await;
    let statements = &app.app.state.statements;
    let variables = json!({
        "f": { "registerId": register },
        "o": [{ "field": "RESIDUAL_SCORE", "direction": "DESC" }],
        "first": 3,
    });
    let first = admin.ok(PAGE, variables.clone()).await;
    let mut next = variables;
    next["after"] = first["risks"]["pageInfo"]["endCursor"].clone();
    statements.record();
    let page = admin.ok(PAGE, next).await;
    let sql = the_ordered_read(&app, "the page").sql;
    assert_eq!(titles(&page["risks"]).len(), 3);
    // One more than the page, to know whether another follows.
    assert!(sql.ends_with(" LIMIT 4"), "{sql}");
    assert!(sql.contains(r#""status" <> 'ARCHIVED'"#), "{sql}");
}

both!(a_page_of_titles_loads_nothing_else);

async fn a_page_of_titles_loads_nothing_else(app: TestApp) {
    let (admin, _) = seed(&app).await;
    admin
        .ok("{ risks(first: 50) { nodes { title } } }", json!({}))
        .await;
    let before = app.statements();
    admin
        .ok("{ risks(first: 50) { nodes { title } } }", json!({}))
        .await;
    // The page alone: a token seen before needs no lookup.
    assert_eq!(app.statements() - before, 1);
}

/// A selection of every field of `type_name`, by introspection: leaf fields
/// by name, object fields with their own leaves (`__typename` for objects
/// below those, so a list still shows how many it holds).
async fn every_field(client: &Client, type_name: &str, depth: u8) -> Vec<(String, String)> {
    let data = client
        .ok(
            "query($t: String!) { __type(name: $t) { fields { name args { defaultValue type { kind } } type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }",
            json!({ "t": type_name }),
        )
        .await;
    let mut selections = Vec::new();
    for field in data["__type"]["fields"].as_array().expect("fields") {
        let name = field["name"].as_str().expect("name").to_owned();
        let required_args = field["args"].as_array().is_some_and(|args| {
            args.iter()
                .any(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null())
        });
        if required_args {
            continue;
        }
        let mut ty = &field["type"];
        while ty["name"].is_null() {
            assert!(
                ty.is_object(),
                "{type_name}.{name} is wrapped more deeply than asked"
            );
            ty = &ty["ofType"];
        }
        let selection = match ty["kind"].as_str() {
            Some("SCALAR" | "ENUM") => name.clone(),
            _ if depth == 0 => format!("{name} {{ __typename }}"),
            _ => {
                let inner = Box::pin(every_field(
                    client,
                    ty["name"].as_str().expect("type"),
                    depth - 1,
                ))
                .await;
                let inner: Vec<String> = inner.into_iter().map(|(_, s)| s).collect();
                format!("{name} {{ __typename {} }}", inner.join(" "))
            }
        };
        selections.push((name, selection));
    }
    selections
}

/// A page reads only the columns its fields ask for. Each field of `Risk`,
/// asked for alone in a page, answers as `node` answers it, which reads
/// whole rows: a field reading a column its page left out would answer a
/// default (null, empty, zero) instead.
async fn a_page_answers_each_field_as_whole_rows_do(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let me = fixtures::me(&admin).await;
    let severity = fixtures::severity(&admin, "High").await;
    let field =
        fixtures::custom_field(&admin, &register, json!({ "name": "Unit", "type": "TEXT" })).await;
    let control = fixtures::control(&admin, json!({ "name": "MFA" })).await;
    let every_column = json!({
        "identifier": "RA-FULL", "description": "d", "category": "c", "department": "e",
        "status": "CLOSED", "stage": "OPERATING", "closureReason": "MITIGATED",
        "severityId": severity, "ownerId": me,
        "likelihoodLevel": 3, "impactLevel": 4,
        "likelihoodRationale": "lr", "impactRationale": "ir",
        "residualLikelihoodOverride": 1, "residualImpactOverride": 2,
        "residualOverrideReason": "or", "toleranceLevel": 2,
        "treatment": "MITIGATE", "treatmentDescription": "td", "treatmentRationale": "tr",
        "mitigationTargetAt": "2027-03-01", "notes": "n", "source": "s", "sourceId": "s-1",
        "customFields": [{ "fieldId": field, "text": "EMEA" }],
    });
    let full = fixtures::risk(&admin, &register, "Full", every_column).await;
    fixtures::link(&admin, &full, &control, "").await;
    fixtures::risk(
        &admin,
        &register,
        "Bare",
        json!({ "likelihoodLevel": 1, "impactLevel": 0 }),
    )
    .await;

    let fields = every_field(&admin, "Risk", 1).await;
    assert_eq!(fields.len(), 43, "every field of Risk, none skipped");
    let page = |selection: &str| {
        format!(
            "query($r: ID!) {{ risks(filter: {{registerId: $r, status: [OPEN, CLOSED]}}, orderBy: [{{field: TITLE}}]) {{ nodes {{ {selection} }} }} }}"
        )
    };
    let all: Vec<&str> = fields.iter().map(|(_, s)| s.as_str()).collect();
    // Each risk whole, as `node` reads it: every column of its row.
    let ids = admin.ok(&page("id"), json!({ "r": register })).await;
    let mut whole = Vec::new();
    for risk in ids["risks"]["nodes"].as_array().expect("nodes") {
        let query = format!(
            "query($id: ID!) {{ node(id: $id) {{ ...on Risk {{ {} }} }} }}",
            all.join(" ")
        );
        whole.push(admin.ok(&query, json!({ "id": risk["id"] })).await["node"].clone());
    }
    assert_eq!(whole.len(), 2);
    for (name, selection) in &fields {
        let set = |v: &Value| !(v.is_null() || v == &json!([]) || v == &json!(""));
        assert!(
            whole.iter().any(|risk| set(&risk[name])),
            "the fixture sets {name}, or this test could not see it read"
        );
        let alone = admin.ok(&page(selection), json!({ "r": register })).await;
        for (n, risk) in alone["risks"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .enumerate()
        {
            assert_eq!(risk[name], whole[n][name], "{name} of risk {n}");
        }
    }
    // Through edges, and with a fragment, as through nodes.
    let edges = admin
        .ok(
            "query($r: ID!) { risks(filter: {registerId: $r, status: [OPEN, CLOSED]}, orderBy: [{field: TITLE}]) { edges { node { ...on Node { id } ...R } } } } fragment R on Risk { residual { score } owner { id } }",
            json!({ "r": register }),
        )
        .await;
    let node = &edges["risks"]["edges"][1]["node"];
    assert_eq!(
        node["residual"],
        json!({ "score": whole[1]["residual"]["score"] })
    );
    assert_eq!(node["owner"]["id"], json!(me));
}

/// A page past its cursor starts at the cursor in its order's index, in
/// every order of a register's risks and in the organization's by
/// creation or last change, either direction: it sorts nothing and searches from the
/// cursor (SQLite's plan), and reads its own rows and the one after, not
/// those before the cursor (PostgreSQL's count), among a key's values or
/// its nulls. Every risk here was created at one instant, as an import's
/// risks are, so the id breaks every tie of `createdAt`. Broken by the id
/// of the other table than the key's, a page 50,000 risks deep took 80 ms
/// on PostgreSQL, and an export of 100,000 risks 13 s on SQLite.
async fn a_page_past_its_cursor_starts_there_in_any_order(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    for n in 0..50 {
        // The last 20 have no score and no target date: a nullable key's
        // page past the first 40 starts among its nulls.
        let input = if n < 30 {
            json!({
                "likelihoodLevel": n % 5,
                "impactLevel": (n / 5) % 5,
                "mitigationTargetAt": format!("2027-01-{:02}", n % 28 + 1),
            })
        } else {
            json!({})
        };
        fixtures::risk(&admin, &register, &format!("Risk {}", n % 7), input).await;
    }
    // Statistics, as a register that has grown has (the service analyzes
    // SQLite's at start): both databases plan tables they know nothing of
    // as if large, and SQLite then searches the nulls of a key without the
    // cursor's id.
    let db = &app.app.state.db;
    db.execute_unprepared("ANALYZE").await.expect("analyzes");
    let statements = &app.app.state.statements;
    let fields = [
        "IDENTIFIER",
        "TITLE",
        "CREATED_AT",
        "UPDATED_AT",
        "INHERENT_SCORE",
        "RESIDUAL_SCORE",
        "MITIGATION_TARGET_AT",
    ];
    let in_register = json!({ "registerId": register });
    // The organization's risks too, by creation (the order of `risks`
    // without arguments) and by last change.
    let orders = fields
        .map(|field| (field, in_register.clone()))
        .into_iter()
        .chain(["CREATED_AT", "UPDATED_AT"].map(|field| (field, Value::Null)));
    for (field, filter) in orders {
        for direction in ["ASC", "DESC"] {
            let mut variables = json!({
                "f": filter,
                "o": [{ "field": field, "direction": direction }],
                "first": 40,
            });
            let first = admin.ok(PAGE, variables.clone()).await;
            variables["after"] = first["risks"]["pageInfo"]["endCursor"].clone();
            variables["first"] = json!(5);
            statements.record();
            let page = admin.ok(PAGE, variables).await;
            let read = the_ordered_read(&app, &format!("{field} {direction}"));
            assert_eq!(titles(&page["risks"]).len(), 5, "{field} {direction}");
            match run_of(&app, &read).await {
                Run::Planned(plan) => {
                    let sorts = plan.iter().any(|line| line.contains("TEMP B-TREE"));
                    assert!(!sorts, "{field} {direction}: {plan:?}");
                    // The outermost search starts at the cursor: a range,
                    // not only the register and the key's null.
                    let ranges = [">?", "<?", ">(?", "<(?"];
                    let starts = plan
                        .first()
                        .is_some_and(|l| ranges.iter().any(|r| l.contains(r)));
                    assert!(starts, "{field} {direction}: {plan:?}");
                }
                // The page, the row that tells whether another follows,
                // and at most the cursor's own row and one that ends a run
                // of a key whose index holds no id (the identifier, which
                // is unique anyway).
                Run::Ran { plan, read } => {
                    assert!(read <= 8, "{field} {direction}: {read} rows read: {plan}");
                }
            }
        }
    }
}
