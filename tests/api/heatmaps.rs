use crate::bulk::Bulk;
use crate::fixtures;
use crate::fixtures::{control, link};
use crate::helpers::{Client, Run, TestApp, run_of, the_ordered_read};
use crate::ws_client::WsClient;
use crate::{both, postgres_only};
use riskgraph::domain::enums::ScalesPreset;
use riskgraph::domain::scales::Scales;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};
use std::collections::HashMap;

both!(
    heatmap_counts_match_the_risks_for_both_bases,
    heatmap_cells_drill_down_to_their_risks,
    a_cells_first_risks_are_read_from_the_cell,
    every_cell_of_a_large_scale_lists_its_risks_under_a_long_filter,
    a_heatmap_of_ten_thousand_risks_reads_its_kept_counts,
    kept_counts_follow_every_change,
    the_summary_counts_by_status_and_band,
    nist_cells_band_as_table_i_2,
    a_remap_from_5x5_to_3x3_moves_every_risk,
    score_filters_select_by_stored_scores,
    counts_of_scores_read_only_the_score_table,
    a_filter_that_leaves_out_nothing_reads_the_kept_counts,
    a_severity_named_by_reference_reads_the_kept_counts,
    counts_are_kept_until_their_register_changes,
    asked_again_reads_only_the_risks_changed,
    tallies_agree_with_fresh_counts_through_changes,
    askers_at_once_after_a_change_share_one_count,
    every_combination_of_facets_folds_from_one_tally,
);
postgres_only!(a_kept_count_sees_a_change_committed_on_another_instance);

const HEATMAP: &str = r#"query($r: ID!, $b: ScoreBasis!, $f: RiskFilter) { heatmap(registerId: $r, basis: $b, filter: $f) {
    basis total unscored likelihood { level } impact { level }
    cells { likelihoodLevel impactLevel count score band { name } } } }"#;

/// 30 risks over the grid, a third of them reduced by a control, some unscored,
/// three closed, two archived.
async fn seed(admin: &Client) -> String {
    let register = fixtures::register(admin, "RA").await;
    let c = control(admin, json!({"name": "c", "effectiveness": 0.5})).await;
    for n in 0..30_i64 {
        let mut input = json!({ "category": if n % 3 == 0 { "Security" } else { "Ops" } });
        if n % 8 != 5 {
            input["likelihoodLevel"] = json!(n % 5);
            input["impactLevel"] = json!((n * 2) % 5);
        }
        if n % 10 == 7 {
            input["status"] = json!("CLOSED");
        }
        let risk = fixtures::risk(admin, &register, &format!("r{n}"), input).await;
        if n % 3 == 1 {
            link(admin, &risk, &c, "").await;
        }
        if n % 14 == 13 {
            admin
                .ok(
                    "mutation($id: ID!) { archiveRisk(id: $id) { id } }",
                    json!({ "id": risk["id"] }),
                )
                .await;
        }
    }
    register
}

/// Counts per cell computed from the risks themselves.
async fn expected(
    admin: &Client,
    filter: Value,
    basis: &str,
) -> (HashMap<(i64, i64), i64>, i64, i64) {
    let data = admin
        .ok(
            &format!("query($f: RiskFilter) {{ risks(filter: $f, first: 500) {{ nodes {{ {RISK_LEVELS} }} }} }}"),
            json!({ "f": filter }),
        )
        .await;
    let mut cells = HashMap::new();
    let (mut total, mut unscored) = (0, 0);
    for r in data["risks"]["nodes"].as_array().expect("nodes") {
        total += 1;
        match levels(r, basis) {
            (Some(l), Some(i)) => *cells.entry((l, i)).or_default() += 1,
            _ => unscored += 1,
        }
    }
    (cells, total, unscored)
}

/// A risk's levels on `basis`, as `RISK_LEVELS` reads them.
fn levels(risk: &Value, basis: &str) -> (Option<i64>, Option<i64>) {
    let on = if basis == "INHERENT" {
        risk
    } else {
        &risk["residual"]
    };
    (on["likelihoodLevel"].as_i64(), on["impactLevel"].as_i64())
}

/// What a risk is read with for `levels`.
const RISK_LEVELS: &str = "likelihoodLevel impactLevel residual { likelihoodLevel impactLevel }";

async fn heatmap_counts_match_the_risks_for_both_bases(app: TestApp) {
    let admin = app.admin("acme");
    let register = seed(&admin).await;
    for basis in ["INHERENT", "RESIDUAL"] {
        for filter in [
            json!(null),
            json!({ "category": ["Security"] }),
            json!({ "includeArchived": true }),
            json!({ "status": ["CLOSED"] }),
            json!({ "status": ["OPEN", "CLOSED"] }),
        ] {
            let map = admin
                .ok(HEATMAP, json!({ "r": register, "b": basis, "f": filter }))
                .await["heatmap"]
                .clone();
            let mut risk_filter = if filter.is_null() {
                json!({})
            } else {
                filter.clone()
            };
            risk_filter["registerId"] = json!(register);
            // Without statuses named, a heatmap counts the open risks.
            if risk_filter.get("status").is_none() {
                let mut open = vec!["OPEN", "PENDING", "MATERIALIZED"];
                if filter["includeArchived"] == json!(true) {
                    open.push("ARCHIVED");
                }
                risk_filter["status"] = json!(open);
            }
            let (cells, total, unscored) = expected(&admin, risk_filter, basis).await;
            assert_eq!(
                (map["total"].as_i64(), map["unscored"].as_i64()),
                (Some(total), Some(unscored)),
                "{basis} {filter}"
            );
            let got = map["cells"].as_array().expect("cells");
            assert_eq!(got.len(), 25, "dense");
            for (k, cell) in got.iter().enumerate() {
                let (l, i) = (
                    cell["likelihoodLevel"].as_i64().unwrap_or(-1),
                    cell["impactLevel"].as_i64().unwrap_or(-1),
                );
                assert_eq!((l, i), (k as i64 / 5, k as i64 % 5), "ordered");
                assert_eq!(
                    cell["count"].as_i64(),
                    Some(cells.get(&(l, i)).copied().unwrap_or(0)),
                    "{basis} {filter} cell {l},{i}"
                );
                assert_eq!(cell["score"].as_f64(), Some(((l + 1) * (i + 1)) as f64));
            }
            let sum: i64 = got.iter().filter_map(|c| c["count"].as_i64()).sum();
            assert_eq!(sum, total - unscored);
            // Each cell lists exactly the risks it counts.
            let drilled = admin
                .ok(
                    &format!(
                        "query($r: ID!, $b: ScoreBasis!, $f: RiskFilter) {{ heatmap(registerId: $r, basis: $b, filter: $f) {{ cells {{ likelihoodLevel impactLevel risks(first: 50) {{ {RISK_LEVELS} }} }} }} }}"
                    ),
                    json!({ "r": register, "b": basis, "f": filter }),
                )
                .await;
            let drilled = drilled["heatmap"]["cells"].as_array().expect("cells");
            for (cell, counted) in drilled.iter().zip(got) {
                let risks = cell["risks"].as_array().expect("risks");
                assert_eq!(Some(risks.len() as i64), counted["count"].as_i64());
                let at = (
                    cell["likelihoodLevel"].as_i64(),
                    cell["impactLevel"].as_i64(),
                );
                for risk in risks {
                    assert_eq!(levels(risk, basis), at, "{basis} {filter}: {risk}");
                }
            }
        }
    }
    let register_field = admin
        .ok(
            "query($r: ID!) { register(id: $r) { heatmap { total basis } } }",
            json!({ "r": register }),
        )
        .await;
    assert_eq!(register_field["register"]["heatmap"]["basis"], "RESIDUAL");
}

async fn heatmap_cells_drill_down_to_their_risks(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    for n in 0..4 {
        fixtures::risk(
            &admin,
            &register,
            &format!("hot {n}"),
            json!({"likelihoodLevel": 4, "impactLevel": 4}),
        )
        .await;
    }
    fixtures::risk(
        &admin,
        &register,
        "cold",
        json!({"likelihoodLevel": 0, "impactLevel": 0}),
    )
    .await;
    let data = admin
        .ok(
            r#"query($r: ID!) { heatmap(registerId: $r) { cells { count top: risks(first: 2) { title } all: risks { title } } } }"#,
            json!({ "r": register }),
        )
        .await;
    let cells = data["heatmap"]["cells"].as_array().expect("cells");
    assert_eq!(cells[24]["count"], 4);
    assert_eq!(cells[24]["top"].as_array().map(Vec::len), Some(2));
    assert_eq!(cells[24]["all"].as_array().map(Vec::len), Some(4));
    assert_eq!(cells[0]["all"], json!([{ "title": "cold" }]));
    assert_eq!(cells[12]["all"], json!([]));
    // A cell's risks are the first of its page by score, ties and all, as
    // a dashboard lists them when the cell is chosen.
    let page = admin
        .ok(
            r#"query($r: ID!) { risks(filter: {registerId: $r, residualLikelihoodLevel: [4], residualImpactLevel: [4]}, orderBy: [{field: RESIDUAL_SCORE, direction: DESC}]) { nodes { title } } }"#,
            json!({ "r": register }),
        )
        .await;
    assert_eq!(cells[24]["all"], page["risks"]["nodes"]);
    assert_eq!(cells[24]["top"][1], page["risks"]["nodes"][1]);
}

/// Each cell's first risks are read by walking the cell's index in score
/// order, in one statement for every cell: not by walking the register's
/// order and skipping the other cells' risks (80,000 of them for a cell of
/// low scores at 100,000 risks), nor by sorting the register. SQLite's
/// plan searches every cell by its levels without a sort; PostgreSQL,
/// planned as a large register is, reads no more of a cell than it gives.
async fn a_cells_first_risks_are_read_from_the_cell(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    for n in 0..36 {
        let levels = json!({"likelihoodLevel": n % 3, "impactLevel": n % 4});
        fixtures::risk(&admin, &register, &format!("Risk {n}"), levels).await;
    }
    let db = &app.app.state.db;
    db.execute_unprepared("ANALYZE").await.expect("analyzes");
    let statements = &app.app.state.statements;
    statements.record();
    let data = admin
        .ok(
            "query($r: ID!) { heatmap(registerId: $r) { cells { count risks(first: 2) { title } } } }",
            json!({ "r": register }),
        )
        .await;
    let read = the_ordered_read(&app, "one statement for every cell");
    let cells = data["heatmap"]["cells"].as_array().expect("cells");
    let held = cells.iter().filter(|c| c["count"] != 0).count();
    assert_eq!(held, 12);
    match run_of(&app, &read).await {
        Run::Planned(plan) => {
            assert!(!plan.iter().any(|l| l.contains("TEMP B-TREE")), "{plan:?}");
            let scores = plan.iter().filter(|l| l.starts_with("SEARCH s "));
            let by_cell = |l: &&String| l.contains("residual_impact_level=?");
            assert_eq!(scores.filter(by_cell).count(), held, "{plan:?}");
        }
        // Each cell's scan, once a cell, stops at the cell's first two.
        Run::Ran { plan, read } => {
            assert!(read <= 2 * held as u64, "{read} rows read: {plan}");
        }
    }
}

/// Each cell's query binds the filter again: 100 cells that hold a risk,
/// under a filter of 500 ids, would bind 50,000 values in one statement,
/// past what SQLite binds (32,766). Every cell still lists its risk.
async fn every_cell_of_a_large_scale_lists_its_risks_under_a_long_filter(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let levels: Vec<Value> = (1..=10)
        .map(|v| json!({ "name": format!("L{v}"), "value": v }))
        .collect();
    let scales = json!({
        "likelihood": levels,
        "impact": levels,
        "bands": [{"name": "Low", "threshold": 0, "color": "#0f0"}],
    });
    admin
        .ok(
            "mutation($id: ID!, $s: RiskScalesInput!) { updateRegister(id: $id, input: {scales: $s}) { id } }",
            json!({ "id": register, "s": scales }),
        )
        .await;
    let mut ids = Vec::new();
    for n in 0..100 {
        let levels = json!({"likelihoodLevel": n % 10, "impactLevel": n / 10});
        let risk = fixtures::risk(&admin, &register, &format!("Risk {n}"), levels).await;
        ids.push(risk["id"].clone());
    }
    ids.extend((ids.len()..500).map(|n| json!(format!("rsk_unknown{n}"))));
    let data = admin
        .ok(
            "query($r: ID!, $f: RiskFilter) { heatmap(registerId: $r, filter: $f) { cells { count risks(first: 1) { title } } } }",
            json!({ "r": register, "f": { "ids": ids } }),
        )
        .await;
    let cells = data["heatmap"]["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 100);
    for cell in cells {
        assert_eq!(cell["count"], 1, "{cell}");
        assert_eq!(cell["risks"].as_array().map(Vec::len), Some(1), "{cell}");
    }
}

async fn a_heatmap_of_ten_thousand_risks_reads_its_kept_counts(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "BIG").await;
    let template = fixtures::risk(
        &admin,
        &register,
        "template",
        json!({"likelihoodLevel": 1, "impactLevel": 1}),
    )
    .await;
    let model = entity::risk::Entity::find_by_id(template["id"].as_str().unwrap_or_default())
        .one(&app.app.state.db)
        .await
        .expect("reads")
        .expect("exists");
    // Setup with no API: 10,000 rows straight into the table.
    let scales = Scales::preset(ScalesPreset::Default5x5);
    let bulk = Bulk {
        template: &model,
        scales: &scales,
        control: None,
        field: None,
    };
    bulk.insert(&app.app.state.db, 10_000).await;
    let query = "query($r: ID!) { heatmap(registerId: $r) { total cells { count } } }";
    admin.ok(query, json!({ "r": register })).await;
    let before = app.statements();
    let data = admin.ok(query, json!({ "r": register })).await;
    let spent = app.statements() - before;
    assert_eq!(data["heatmap"]["total"], 10_001);
    // The register and its kept counts: the principal is known.
    assert_eq!(spent, 2, "statements for a heatmap");
    assert_kept_counts_are_true(&admin, &register).await;
}

/// The kept counts equal what a filter that counts the risks finds (every
/// risk changed since 2000), on both bases: the register's, unfiltered, and
/// each facet's, for each value its risks have and for all of them at once.
async fn assert_kept_counts_are_true(admin: &Client, register: &str) {
    let risks = admin
        .ok(
            "query($r: ID!) { risks(first: 500, filter: {registerId: $r, includeArchived: true}) { nodes { stage category department treatment owner { id } severity { id } } } }",
            json!({ "r": register }),
        )
        .await;
    let mut filters = vec![json!({})];
    for (facet, field) in [
        ("stage", "/stage"),
        ("category", "/category"),
        ("department", "/department"),
        ("treatment", "/treatment"),
        ("ownerId", "/owner/id"),
        ("severityId", "/severity/id"),
    ] {
        let mut values: Vec<Value> = risks["risks"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter_map(|r| r.pointer(field).filter(|v| !v.is_null()).cloned())
            .collect();
        values.sort_by_key(Value::to_string);
        values.dedup();
        filters.extend(values.iter().map(|v| json!({ facet: [v] })));
        filters.push(json!({ facet: values }));
    }
    let query = "query($r: ID!, $b: ScoreBasis!, $f: RiskFilter, $c: RiskFilter) {
        kept: heatmap(registerId: $r, basis: $b, filter: $f) { total unscored cells { likelihoodLevel impactLevel count } }
        counted: heatmap(registerId: $r, basis: $b, filter: $c) { total unscored cells { likelihoodLevel impactLevel count } } }";
    for filter in filters {
        let mut counted = filter.clone();
        counted["updatedSince"] = json!("2000-01-01T00:00:00Z");
        for basis in ["INHERENT", "RESIDUAL"] {
            let variables = json!({ "r": register, "b": basis, "f": filter, "c": counted });
            let data = admin.ok(query, variables).await;
            assert_eq!(data["kept"], data["counted"], "{basis} heatmap of {filter}");
        }
    }
}

async fn kept_counts_follow_every_change(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let me = fixtures::me(&admin).await;
    let high = fixtures::severity(&admin, "High").await;
    let mut risks = Vec::new();
    for (n, (l, i)) in [(0, 0), (4, 4), (4, 4), (2, 3), (1, 1)]
        .into_iter()
        .enumerate()
    {
        let (category, stage) = [("Security", "PROPOSED"), ("Finance", "APPROVED")][n % 2];
        let input = json!({
            "likelihoodLevel": l, "impactLevel": i,
            "category": category, "department": "Ops",
            "stage": stage, "treatment": "MITIGATE",
            "ownerId": me, "severityId": high,
        });
        risks.push(fixtures::risk(&admin, &register, "t", input).await);
    }
    risks.push(
        fixtures::risk(
            &admin,
            &register,
            "unscored",
            json!({"category": "Security"}),
        )
        .await,
    );
    assert_kept_counts_are_true(&admin, &register).await;
    let update =
        "mutation($id: ID!, $i: UpdateRiskInput!) { updateRisk(id: $id, input: $i) { version } }";
    let change = |n: usize, input: Value| json!({ "id": risks[n]["id"], "i": input });
    admin.ok(update, change(0, json!({"impactLevel": 2}))).await;
    admin
        .ok(update, change(5, json!({"likelihoodLevel": 3})))
        .await;
    admin
        .ok(update, change(3, json!({"likelihoodLevel": null})))
        .await;
    admin
        .ok(update, change(4, json!({"residualImpactOverride": 0})))
        .await;
    assert_kept_counts_are_true(&admin, &register).await;
    // Facet values change, are cleared and set, with and without a move.
    admin
        .ok(
            update,
            change(0, json!({"category": "Finance", "stage": "OPERATING"})),
        )
        .await;
    admin
        .ok(
            update,
            change(
                1,
                json!({"ownerId": null, "department": null, "likelihoodLevel": 0}),
            ),
        )
        .await;
    admin
        .ok(
            update,
            change(5, json!({"severityId": high, "treatment": "ACCEPT"})),
        )
        .await;
    assert_kept_counts_are_true(&admin, &register).await;
    let c = control(&admin, json!({"name": "EDR", "effectiveness": 0.6})).await;
    link(&admin, &risks[1], &c, "").await;
    link(&admin, &risks[2], &c, ", reduces: IMPACT").await;
    assert_kept_counts_are_true(&admin, &register).await;
    admin
        .ok(
            "mutation($id: ID!) { updateControl(id: $id, input: {health: AT_RISK}) { id } }",
            json!({ "id": c }),
        )
        .await;
    admin
        .ok(update, change(1, json!({"status": "ARCHIVED"})))
        .await;
    admin
        .ok(
            "mutation($id: ID!) { deleteRisk(id: $id) }",
            json!({ "id": risks[2]["id"] }),
        )
        .await;
    assert_kept_counts_are_true(&admin, &register).await;
    admin.ok(update, change(1, json!({"status": "OPEN"}))).await;
    // Closing leaves the heatmap; reopening comes back.
    admin
        .ok(update, change(0, json!({"status": "CLOSED"})))
        .await;
    admin
        .ok(update, change(4, json!({"status": "CLOSED"})))
        .await;
    assert_kept_counts_are_true(&admin, &register).await;
    let open = admin
        .ok(
            "query($r: ID!) { heatmap(registerId: $r) { total } }",
            json!({ "r": register }),
        )
        .await;
    assert_eq!(
        open["heatmap"]["total"],
        json!(3),
        "6 risks, 1 deleted, 2 closed"
    );
    admin
        .ok(update, change(4, json!({"status": "PENDING"})))
        .await;
    admin
        .ok(
            "mutation($id: ID!) { archiveControl(id: $id) { id } }",
            json!({ "id": c }),
        )
        .await;
    let remap = json!({"likelihood": [0, 0, 1, 2, 2], "impact": [0, 0, 1, 2, 2]});
    admin
        .ok(
            "mutation($id: ID!, $m: ScalesRemapInput!) {
                updateRegister(id: $id, input: {scales: {
                    likelihood: [{name: \"L\", value: 1}, {name: \"M\", value: 2}, {name: \"H\", value: 3}],
                    impact: [{name: \"L\", value: 1}, {name: \"M\", value: 2}, {name: \"H\", value: 3}],
                    bands: [{name: \"Low\", threshold: 0, color: \"#0f0\"}, {name: \"High\", threshold: 4, color: \"#f00\"}]},
                  scalesRemap: $m}) { version } }",
            json!({ "id": register, "m": remap }),
        )
        .await;
    assert_kept_counts_are_true(&admin, &register).await;
}

async fn the_summary_counts_by_status_and_band(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    for (l, i, status, tolerance) in [
        (Some(0), Some(0), "OPEN", Some(0)),
        (Some(4), Some(4), "OPEN", Some(1)),
        (Some(4), Some(4), "PENDING", Some(3)),
        (Some(2), Some(2), "CLOSED", None),
        (None, None, "OPEN", None),
    ] {
        fixtures::risk(
            &admin,
            &register,
            "t",
            json!({ "likelihoodLevel": l, "impactLevel": i, "status": status, "toleranceLevel": tolerance }),
        )
        .await;
    }
    let data = admin
        .ok(
            "query($r: ID!) { register(id: $r) { summary { total unscored outsideTolerance byStatus { status count } byResidualBand { band { name } count } } } }",
            json!({ "r": register }),
        )
        .await;
    let s = &data["register"]["summary"];
    assert_eq!(
        (
            s["total"].clone(),
            s["unscored"].clone(),
            s["outsideTolerance"].clone()
        ),
        // The closed risk counts only in byStatus.
        (json!(4), json!(1), json!(1))
    );
    assert_eq!(
        s["byStatus"],
        json!([
            {"status": "OPEN", "count": 3}, {"status": "PENDING", "count": 1},
            {"status": "MATERIALIZED", "count": 0}, {"status": "CLOSED", "count": 1}
        ])
    );
    let bands: Vec<i64> = s["byResidualBand"]
        .as_array()
        .expect("bands")
        .iter()
        .filter_map(|b| b["count"].as_i64())
        .collect();
    // 1 (Low), 25 and 25 (Critical); the closed 9 (Medium) is not counted.
    assert_eq!(bands, [1, 0, 0, 2]);
}

async fn nist_cells_band_as_table_i_2(app: TestApp) {
    let admin = app.admin("acme");
    let register = admin
        .ok(r#"mutation { createRegister(input: {name: "NIST", identifierPrefix: "N", preset: NIST_800_30}) { id } }"#, json!({}))
        .await["createRegister"]["id"]
        .clone();
    // Rows likelihood Very Low..Very High, columns impact Very Low..Very High.
    let table = [
        ["Very Low", "Very Low", "Very Low", "Low", "Low"],
        ["Very Low", "Low", "Low", "Low", "Moderate"],
        ["Very Low", "Low", "Moderate", "Moderate", "High"],
        ["Very Low", "Low", "Moderate", "High", "Very High"],
        ["Very Low", "Low", "Moderate", "High", "Very High"],
    ];
    for (l, row) in table.iter().enumerate() {
        for (i, band) in row.iter().enumerate() {
            let risk = fixtures::risk(
                &admin,
                register.as_str().unwrap_or_default(),
                "cell",
                json!({"likelihoodLevel": l, "impactLevel": i}),
            )
            .await;
            assert_eq!(risk["inherent"]["band"]["name"], *band, "risk at {l},{i}");
        }
    }
    let map = admin
        .ok(HEATMAP, json!({ "r": register, "b": "INHERENT" }))
        .await;
    for cell in map["heatmap"]["cells"].as_array().expect("cells") {
        let (l, i) = (
            cell["likelihoodLevel"].as_u64().unwrap_or(9) as usize,
            cell["impactLevel"].as_u64().unwrap_or(9) as usize,
        );
        assert_eq!(cell["band"]["name"], table[l][i], "cell {l},{i}");
        assert_eq!(cell["count"], 1);
    }
}

async fn a_remap_from_5x5_to_3x3_moves_every_risk(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let mut risks = Vec::new();
    for (l, i) in [(0, 0), (1, 3), (2, 2), (3, 4), (4, 1)] {
        let input = json!({"likelihoodLevel": l, "impactLevel": i, "residualImpactOverride": i});
        risks.push((l, i, fixtures::risk(&admin, &register, "t", input).await));
    }
    let unscored = fixtures::risk(&admin, &register, "unscored", json!({})).await;
    let three = json!({
        "likelihood": [{"name": "L", "value": 1}, {"name": "M", "value": 2}, {"name": "H", "value": 3}],
        "impact": [{"name": "L", "value": 1}, {"name": "M", "value": 2}, {"name": "H", "value": 3}],
        "bands": [{"name": "Low", "threshold": 0, "color": "#0f0"}, {"name": "Medium", "threshold": 3, "color": "#ff0"}, {"name": "High", "threshold": 6, "color": "#f00"}]
    });
    let map = [0, 0, 1, 2, 2];
    let update = "mutation($id: ID!, $s: RiskScalesInput!, $m: ScalesRemapInput) { updateRegister(id: $id, input: {scales: $s, scalesRemap: $m}) { version } }";
    admin
        .err(
            update,
            json!({ "id": register, "s": three, "m": { "likelihood": [0, 0, 1] } }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("scalesRemap.likelihood"));
    admin
        .err(update, json!({ "id": register, "s": three, "m": { "likelihood": map, "impact": [0, 0, 1, 2, 3] } }))
        .await
        .assert("BAD_USER_INPUT", Some("scalesRemap.impact[4]"));
    admin
        .ok(
            update,
            json!({ "id": register, "s": three, "m": { "likelihood": map, "impact": map } }),
        )
        .await;
    for (l, i, risk) in &risks {
        let now = crate::controls::read(&admin, risk).await;
        assert_eq!(
            (
                now["likelihoodLevel"].clone(),
                now["impactLevel"].clone(),
                now["residualImpactOverride"].clone()
            ),
            (json!(map[*l]), json!(map[*i]), json!(map[*i])),
            "risk at {l},{i}"
        );
        let score = ((map[*l] + 1) * (map[*i] + 1)) as f64;
        assert_eq!(now["inherent"]["score"].as_f64(), Some(score));
    }
    let events = fixtures::events(&app, fixtures::Events::Caused("SCALES_UPDATED")).await;
    // (0, 0) stays (0, 0) and the unscored risk has nothing to move.
    assert_eq!(events.len(), 4, "one event per risk moved");
    let unmoved = [risks[0].2["id"].as_str(), unscored["id"].as_str()];
    assert!(
        events
            .iter()
            .all(|e| !unmoved.contains(&Some(e.risk_id.as_str())))
    );
    let changes: Value = serde_json::from_str(&events[1].changes).expect("json");
    assert!(
        changes
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["field"] == "likelihoodLevel")),
        "{changes}"
    );
}

async fn score_filters_select_by_stored_scores(app: TestApp) {
    let admin = app.admin("acme");
    let register = seed(&admin).await;
    let all = admin
        .ok(
            "query($r: ID!) { risks(filter: {registerId: $r}, first: 500) { nodes { id residual { score band { level } likelihoodLevel } inherent { band { level } } withinTolerance } } }",
            json!({ "r": register }),
        )
        .await["risks"]["nodes"]
        .clone();
    let nodes = all.as_array().expect("nodes");
    let count = |f: &dyn Fn(&Value) -> bool| nodes.iter().filter(|n| f(n)).count();
    for (filter, expected) in [
        (
            json!({ "residualBand": [3] }),
            count(&|n| n["residual"]["band"]["level"] == 3),
        ),
        (
            json!({ "inherentBand": [0, 1] }),
            count(&|n| {
                n["inherent"]["band"]["level"]
                    .as_i64()
                    .is_some_and(|b| b <= 1)
            }),
        ),
        (
            json!({ "residualScoreMin": 4, "residualScoreMax": 12 }),
            count(&|n| {
                n["residual"]["score"]
                    .as_f64()
                    .is_some_and(|s| (4.0..=12.0).contains(&s))
            }),
        ),
        (
            json!({ "residualLikelihoodLevel": [0] }),
            count(&|n| n["residual"]["likelihoodLevel"] == 0),
        ),
    ] {
        let mut f = filter.clone();
        f["registerId"] = json!(register);
        let got = admin
            .ok(
                "query($f: RiskFilter) { risks(filter: $f) { totalCount } }",
                json!({ "f": f }),
            )
            .await;
        assert_eq!(
            got["risks"]["totalCount"].as_u64(),
            Some(expected as u64),
            "{filter}"
        );
        assert!(expected > 0, "{filter} selects something");
    }
}

/// The statements recorded since `record` that read risks.
fn recorded_risk_reads(statements: &riskgraph::store::StatementCounter) -> Vec<String> {
    let reads_risks =
        |sql: &str| sql.contains(r#"FROM "risk_scores""#) || sql.contains(r#"FROM "risk_view""#);
    statements
        .take_recorded()
        .into_iter()
        .map(|s| s.sql)
        .filter(|sql| reads_risks(sql))
        .collect()
}

/// A count, a filtered heatmap or a summary that names only what
/// `risk_scores` holds reads that table alone: joined to `risks`, each
/// would read every row of both. One that names a column of `risks` (a
/// category) reads the view, and counts the same risks either way. A
/// `totalCount` alone reads no page.
async fn counts_of_scores_read_only_the_score_table(app: TestApp) {
    let admin = app.admin("acme");
    let register = seed(&admin).await;
    let statements = &app.app.state.statements;
    let read = |category: Option<&str>| {
        let admin = admin.clone();
        let register = register.clone();
        let filter = match category {
            Some(c) => json!({ "status": ["OPEN"], "category": [c] }),
            None => json!({ "status": ["OPEN"] }),
        };
        async move {
            let mut filter_r = filter.clone();
            filter_r["registerId"] = json!(register);
            statements.record();
            let count = admin
                .ok(
                    "query($f: RiskFilter) { risks(filter: $f) { totalCount } }",
                    json!({ "f": filter_r }),
                )
                .await["risks"]["totalCount"]
                .clone();
            let heatmap = admin
                .ok(
                    HEATMAP,
                    json!({ "r": register, "b": "RESIDUAL", "f": filter }),
                )
                .await["heatmap"]["total"]
                .clone();
            (count, heatmap, recorded_risk_reads(statements))
        }
    };
    let (count, heatmap, sql) = read(None).await;
    assert_eq!(count, heatmap);
    assert_eq!(sql.len(), 2, "{sql:?}");
    for sql in &sql {
        assert!(sql.contains(r#"FROM "risk_scores""#), "{sql}");
    }
    let (count, heatmap, sql) = read(Some("Security")).await;
    assert_eq!(count, heatmap);
    assert!(count.as_i64().is_some_and(|n| n > 0), "{count}");
    assert_eq!(sql.len(), 2, "{sql:?}");
    for sql in &sql {
        assert!(sql.contains(r#"FROM "risk_view""#), "{sql}");
    }
}

/// The total of `register`'s residual heatmap filtered by `filter`.
async fn residual_total(admin: &Client, register: &str, filter: Value) -> Value {
    let data = admin
        .ok(
            HEATMAP,
            json!({ "r": register, "b": "RESIDUAL", "f": filter }),
        )
        .await;
    data["heatmap"]["total"].clone()
}

/// `filter: {}`, or one naming only what a heatmap counts anyway, reads the
/// kept counts; a filter that names more counts the risks. Told apart by
/// kept counts made wrong on purpose, with no API.
async fn a_filter_that_leaves_out_nothing_reads_the_kept_counts(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let admin = app.admin("acme");
    let (register, _) = fixtures::scored_risk(&admin, (2, 3)).await;
    app.app
        .state
        .db
        .execute_unprepared(&format!(
            "UPDATE risk_cell_counts SET count = count + 5 WHERE register_id = '{register}' AND basis = 'RESIDUAL'"
        ))
        .await
        .expect("updates");
    let total = |filter: Value| residual_total(&admin, &register, filter);
    assert_eq!(total(Value::Null).await, 6);
    assert_eq!(total(json!({})).await, 6);
    let own = json!({ "registerId": "reg_another", "includeArchived": false, "status": ["OPEN", "PENDING", "MATERIALIZED"] });
    assert_eq!(total(own).await, 6, "registerId is the heatmap's own");
    assert_eq!(
        total(json!({ "updatedSince": "2000-01-01T00:00:00Z" })).await,
        1
    );
    assert_eq!(total(json!({ "status": ["OPEN"] })).await, 1);
    assert_eq!(total(json!({ "includeArchived": true })).await, 1);
}

/// `severityReference` names severities as `severityId` does, so it reads
/// the kept counts of the severity facet: set wrong here on purpose, they
/// show through, while a filter they cannot answer counts the risks.
async fn a_severity_named_by_reference_reads_the_kept_counts(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let admin = app.admin("acme");
    let high = fixtures::severity(&admin, "High").await;
    let register = fixtures::register(&admin, "RS").await;
    let levels = json!({ "likelihoodLevel": 2, "impactLevel": 3, "severityId": high });
    fixtures::risk(&admin, &register, "t", levels).await;
    app.app
        .state
        .db
        .execute_unprepared(&format!(
            "UPDATE risk_facet_counts SET count = count + 5 WHERE register_id = '{register}' \
             AND basis = 'RESIDUAL' AND facet = 'severity_id'"
        ))
        .await
        .expect("updates");
    let total = |filter: Value| residual_total(&admin, &register, filter);
    assert_eq!(total(json!({ "severityId": [high] })).await, 6);
    assert_eq!(total(json!({ "severityReference": ["HIGH"] })).await, 6);
    let counted = json!({ "severityReference": ["high"], "updatedSince": "2000-01-01T00:00:00Z" });
    assert_eq!(total(counted).await, 1);
    assert_eq!(total(json!({ "severityReference": ["low"] })).await, 0);
    let both = json!({ "severityReference": ["high"], "severityId": ["sev_another"] });
    assert_eq!(total(both).await, 0, "both must hold");
}

/// Two facets at once: what the kept counts cannot answer.
fn two_facets(category: &str) -> Value {
    json!({ "category": [category], "treatment": ["NOT_SET"] })
}

/// Two risks of category A in a new register.
async fn two_of_category_a(admin: &Client) -> (String, [String; 2]) {
    let register = fixtures::register(admin, "RK").await;
    let mut ids = Vec::new();
    for title in ["first", "second"] {
        let input = json!({ "likelihoodLevel": 2, "impactLevel": 3, "category": "A" });
        let risk = fixtures::risk(admin, &register, title, input).await;
        ids.push(risk["id"].as_str().expect("id").to_owned());
    }
    (register, [ids[0].clone(), ids[1].clone()])
}

/// Waits until the feed has passed the register's first `n` events: a
/// count that begins after this finds them settled, and its answer is kept
/// (a count that begins before may find one still in flight, and then the
/// next read counts again).
async fn passed(app: &TestApp, register: &str, n: usize) {
    use crate::subscriptions::{hour_from_now, token};
    let viewer = token("acme", "viewer", hour_from_now());
    let mut ws = WsClient::signed_in(&app.ws_url(), &viewer).await;
    let events = "subscription($r: ID) { riskEvents(registerId: $r, after: \"0\") { cursor } }";
    ws.subscribe("1", events, json!({ "r": register })).await;
    for _ in 0..n {
        ws.next_data("1").await;
    }
    ws.close().await;
}

/// Moves a risk to category `category` through the API.
async fn recategorize(admin: &Client, risk: &str, category: &str) {
    let update =
        "mutation($id: ID!, $c: String) { updateRisk(id: $id, input: {category: $c}) { id } }";
    admin.ok(update, json!({ "id": risk, "c": category })).await;
}

/// A heatmap the kept counts cannot answer, a summary and a breakdown are
/// counted once, then kept until an event of their register commits. Told
/// apart by a change written straight into the tables, which no client of
/// riskgraph can make: it writes no event, so it shows only once the
/// register's next event does.
async fn counts_are_kept_until_their_register_changes(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let admin = app.admin("acme");
    let (register, [first, second]) = two_of_category_a(&admin).await;
    passed(&app, &register, 2).await;
    let other = fixtures::register(&admin, "RO").await;
    let counts = || async {
        let heatmap = residual_total(&admin, &register, two_facets("A")).await;
        let query = "query($r: ID!) { register(id: $r) { summary { total } breakdown(by: CATEGORY) { key count } } }";
        let data = admin.ok(query, json!({ "r": register })).await;
        let register = &data["register"];
        (
            heatmap,
            register["summary"]["total"].clone(),
            register["breakdown"].clone(),
        )
    };
    let before = counts().await;
    assert_eq!(before.0, 2);
    assert_eq!(before.1, 2);
    assert_eq!(before.2, json!([{ "key": "A", "count": 2 }]));

    let db = &app.app.state.db;
    for sql in [
        format!("UPDATE risks SET category = 'B' WHERE id = '{first}'"),
        format!("UPDATE risk_scores SET status = 'CLOSED' WHERE id = '{first}'"),
    ] {
        db.execute_unprepared(&sql).await.expect("updates");
    }
    assert_eq!(counts().await, before, "kept");
    fixtures::risk(&admin, &other, "elsewhere", json!({ "category": "A" })).await;
    assert_eq!(
        counts().await,
        before,
        "another register's change keeps them"
    );

    recategorize(&admin, &second, "C").await;
    let after = counts().await;
    assert_eq!(after.0, 0, "both moved out of A");
    assert_eq!(after.1, 1, "the first is closed");
    let by_category = json!([{ "key": "B", "count": 1 }, { "key": "C", "count": 1 }]);
    assert_eq!(after.2, by_category);
    assert_eq!(residual_total(&admin, &register, two_facets("C")).await, 1);
}

/// A heatmap, a summary or a breakdown asked again after a change is
/// tallied: every later change is brought in by reading only the risks its
/// events name. Told apart from a count by a change written straight into
/// the tables, with no event: a count would see it, a tally sees it only
/// with that risk's own event.
async fn asked_again_reads_only_the_risks_changed(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let admin = app.admin("acme");
    let (register, [first, second]) = two_of_category_a(&admin).await;
    let totals = || async {
        let heatmap = residual_total(&admin, &register, two_facets("A")).await;
        let query = "query($r: ID!) { register(id: $r) { summary { total } breakdown(by: CATEGORY) { key count } } }";
        let data = admin.ok(query, json!({ "r": register })).await;
        let register = &data["register"];
        let by_category: Vec<(String, i64)> = register["breakdown"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap_or("").to_owned(),
                    g["count"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        (heatmap, register["summary"]["total"].clone(), by_category)
    };
    let group = |key: &str, n: i64| (key.to_owned(), n);
    assert_eq!(
        totals().await,
        (json!(2), json!(2), vec![group("A", 2)]),
        "counted"
    );
    let levels = json!({ "likelihoodLevel": 1, "impactLevel": 1, "category": "A" });
    fixtures::risk(&admin, &register, "third", levels).await;
    assert_eq!(
        totals().await,
        (json!(3), json!(3), vec![group("A", 3)]),
        "tallied"
    );

    let db = &app.app.state.db;
    for sql in [
        format!("UPDATE risks SET category = 'B' WHERE id = '{first}'"),
        format!("UPDATE risk_scores SET status = 'CLOSED' WHERE id = '{first}'"),
    ] {
        db.execute_unprepared(&sql).await.expect("updates");
    }
    recategorize(&admin, &second, "C").await;
    let statements = &app.app.state.statements;
    statements.record();
    assert_eq!(
        totals().await,
        (json!(2), json!(3), vec![group("A", 2), group("C", 1)]),
        "the second left A; the first, with no event, still counts as A and open"
    );
    let reads = recorded_risk_reads(statements);
    assert_eq!(reads.len(), 3, "{reads:?}");
    for read in reads {
        assert!(read.contains("risks_id"), "by id: {read}");
    }
    recategorize(&admin, &first, "D").await;
    let by_category = vec![group("A", 1), group("C", 1), group("D", 1)];
    assert_eq!(
        totals().await,
        (json!(1), json!(2), by_category),
        "the first's own event"
    );
}

/// A tallied heatmap and breakdown agree with a fresh count of the same
/// risks after every change a tally must follow: a risk entering or
/// leaving the filter, moving cell or group, changing status, archived,
/// deleted, created.
async fn tallies_agree_with_fresh_counts_through_changes(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RT").await;
    let mut ids = Vec::new();
    for k in 0..6 {
        let input = json!({
            "category": if k % 2 == 0 { "A" } else { "B" },
            "likelihoodLevel": k % 5,
            "impactLevel": (k * 2) % 5,
        });
        let risk = fixtures::risk(&admin, &register, &format!("r{k}"), input).await;
        ids.push(risk["id"].as_str().expect("id").to_owned());
    }
    let query = "query($r: ID!, $f: RiskFilter) { heatmap(registerId: $r, filter: $f) { total unscored cells { count } } register(id: $r) { breakdown(by: CATEGORY, filter: $f) { key count averageScore maxScore } } }";
    let filter = json!({ "category": ["A", "C"], "treatment": ["NOT_SET", "MITIGATE"] });
    let read = |filter: Value| admin.ok(query, json!({ "r": register, "f": filter }));
    let update =
        "mutation($id: ID!, $i: UpdateRiskInput!) { updateRisk(id: $id, input: $i) { id } }";
    let changes = [
        (1, json!({ "category": "A" })),
        (0, json!({ "likelihoodLevel": 4, "impactLevel": 4 })),
        (2, json!({ "treatment": "ACCEPT" })),
        (3, json!({ "category": "C", "treatment": "MITIGATE" })),
        (4, json!({ "status": "PENDING" })),
        (0, json!({ "notes": "no score moves" })),
        (2, json!({ "treatment": "MITIGATE" })),
    ];
    // Asked, then asked again after a change: a tally from then on.
    read(filter.clone()).await;
    for (step, (k, input)) in changes.into_iter().enumerate() {
        admin.ok(update, json!({ "id": ids[k], "i": input })).await;
        let kept = read(filter.clone()).await;
        let mut fresh = filter.clone();
        fresh["updatedSince"] = json!(format!("2000-01-01T00:00:{step:02}Z"));
        assert_eq!(kept, read(fresh).await, "after change {step}");
    }
    admin
        .ok(
            "mutation($id: ID!) { archiveRisk(id: $id) { id } }",
            json!({ "id": ids[1] }),
        )
        .await;
    admin
        .ok(
            "mutation($id: ID!) { deleteRisk(id: $id) }",
            json!({ "id": ids[3] }),
        )
        .await;
    let input = json!({ "category": "A", "likelihoodLevel": 1, "impactLevel": 1 });
    fixtures::risk(&admin, &register, "new", input).await;
    let statements = &app.app.state.statements;
    statements.record();
    let kept = read(filter.clone()).await;
    let reads = recorded_risk_reads(statements);
    assert!(
        !reads.is_empty() && reads.iter().all(|r| r.contains("risks_id")),
        "{reads:?}"
    );
    let mut fresh = filter;
    fresh["updatedSince"] = json!("2000-01-01T00:01:00Z");
    assert_eq!(kept, read(fresh).await, "archived, deleted, created");
}

/// Heatmaps filtered by values of several facets fold from one tally of
/// the register's cells and facet values: once it is counted, each other
/// combination a dashboard tries reads no risk, and every answer, through
/// changes, is what counting the same filter gives.
async fn every_combination_of_facets_folds_from_one_tally(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RF").await;
    let mut ids = Vec::new();
    for k in 0..9_i64 {
        let treatment = ["NOT_SET", "MITIGATE", "ACCEPT"][(k % 3) as usize];
        let mut input = json!({
            "likelihoodLevel": k % 5,
            "impactLevel": (k * 3) % 5,
            "treatment": treatment,
        });
        // Some risks have no category or department: no value matches them.
        if k % 4 != 3 {
            input["category"] = json!(["A", "B"][(k % 2) as usize]);
        }
        if k % 3 != 2 {
            input["department"] = json!(["X", "Y"][(k % 2) as usize]);
        }
        let risk = fixtures::risk(&admin, &register, &format!("r{k}"), input).await;
        ids.push(risk["id"].as_str().expect("id").to_owned());
    }
    passed(&app, &register, ids.len()).await;
    let combinations = [
        json!({ "category": ["A"], "treatment": ["MITIGATE", "ACCEPT"] }),
        json!({ "category": ["A", "B"], "department": ["X"] }),
        json!({ "category": ["B"], "department": ["X", "Y"], "treatment": ["NOT_SET", "MITIGATE"] }),
        json!({ "category": [], "treatment": ["MITIGATE"] }),
        json!({ "department": ["Y"], "stage": ["PROPOSED", "EVALUATING"] }),
    ];
    let query = "query($r: ID!, $f: RiskFilter) { heatmap(registerId: $r, filter: $f) { total unscored cells { likelihoodLevel impactLevel count } } }";
    let read = |filter: &Value| admin.ok(query, json!({ "r": register, "f": filter }));
    // The same filter, counted: every risk was updated since then.
    let counted = |filter: &Value, step: usize| {
        let mut filter = filter.clone();
        filter["updatedSince"] = json!(format!("2000-01-01T00:00:{step:02}Z"));
        async move { read(&filter).await }
    };
    read(&combinations[0]).await;
    let statements = &app.app.state.statements;
    statements.record();
    let mut folded = Vec::new();
    for filter in &combinations {
        folded.push(read(filter).await);
    }
    let reads = recorded_risk_reads(statements);
    assert!(reads.is_empty(), "{reads:?}");
    let mut step = 0;
    for (filter, folded) in combinations.iter().zip(&folded) {
        assert_eq!(folded, &counted(filter, step).await, "{filter}");
        step += 1;
    }
    assert!(folded.iter().any(|f| f["heatmap"]["total"] != 0));
    let update =
        "mutation($id: ID!, $i: UpdateRiskInput!) { updateRisk(id: $id, input: $i) { id } }";
    let changes = [
        (0, json!({ "category": "B" })),
        (1, json!({ "department": null, "treatment": "ACCEPT" })),
        (
            3,
            json!({ "category": "A", "likelihoodLevel": 4, "impactLevel": 4 }),
        ),
        (
            4,
            json!({ "status": "CLOSED", "closureReason": "MITIGATED" }),
        ),
    ];
    for (k, input) in changes {
        admin.ok(update, json!({ "id": ids[k], "i": input })).await;
        for filter in &combinations {
            let kept = read(filter).await;
            assert_eq!(kept, counted(filter, step).await, "{filter} after {input}");
            step += 1;
        }
    }
}

/// An instance that keeps a count sees a change committed through another
/// instance on its next read: the kept count is checked against the table,
/// not against what its feed has heard.
async fn a_kept_count_sees_a_change_committed_on_another_instance(database_url: String) {
    use crate::subscriptions::{hour_from_now, spawn_instance, token};
    let (a, b) = (
        spawn_instance(&database_url).await,
        spawn_instance(&database_url).await,
    );
    let on = |url: &str| Client {
        http: crate::helpers::http_client(),
        url: url.to_owned(),
        token: Some(token("acme", "admin", hour_from_now())),
    };
    let (reader, writer) = (on(&a.url), on(&b.url));
    let (register, [first, second]) = two_of_category_a(&writer).await;
    for _ in 0..2 {
        assert_eq!(residual_total(&reader, &register, two_facets("A")).await, 2);
    }
    recategorize(&writer, &first, "B").await;
    assert_eq!(residual_total(&reader, &register, two_facets("A")).await, 1);
    recategorize(&writer, &second, "B").await;
    assert_eq!(residual_total(&reader, &register, two_facets("A")).await, 0);
    drop((a.child, b.child));
}

/// Dashboards that ask at once after a change wait for one read: the
/// first brings the tallied heatmap up to date by reading the one risk
/// changed, or counts the summary, and the others find its answer current.
async fn askers_at_once_after_a_change_share_one_count(app: TestApp) {
    let admin = app.admin("acme");
    let (register, [first, second]) = two_of_category_a(&admin).await;
    assert_eq!(residual_total(&admin, &register, two_facets("A")).await, 2);
    recategorize(&admin, &first, "B").await;
    assert_eq!(residual_total(&admin, &register, two_facets("A")).await, 1);
    recategorize(&admin, &second, "B").await;
    passed(&app, &register, 4).await;
    let statements = &app.app.state.statements;
    statements.record();
    let askers = (0..8).map(|_| residual_total(&admin, &register, two_facets("A")));
    for total in futures_util::future::join_all(askers).await {
        assert_eq!(total, 0);
    }
    let reads = recorded_risk_reads(statements);
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert!(reads[0].contains("risks_id"), "by id: {}", reads[0]);

    statements.record();
    let query = "query($r: ID!) { register(id: $r) { summary { total } } }";
    let askers = (0..8).map(|_| admin.ok(query, json!({ "r": register })));
    for data in futures_util::future::join_all(askers).await {
        assert_eq!(data["register"]["summary"]["total"], 2);
    }
    let reads = recorded_risk_reads(statements);
    assert_eq!(reads.len(), 1, "{reads:?}");
}
