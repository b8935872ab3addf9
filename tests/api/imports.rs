//! Export (`GET /registers/{id}/risks.csv`) and `importRisks`: a register
//! out to a spreadsheet and back, all or nothing.

use crate::fixtures::{self, Events};
use crate::helpers::{Client, TestApp};
use crate::{both, both_with};
use serde_json::{Value, json};

both!(
    an_export_imports_back_unchanged_and_one_edit_changes_one_risk,
    one_bad_row_writes_nothing_and_every_problem_is_named,
    another_organizations_names_read_like_unknown_ones,
    rows_match_by_source_and_source_id,
    an_export_takes_the_arguments_of_risks_and_streams_every_batch,
    an_export_refuses_like_the_api,
    a_workbook_holds_what_the_csv_holds,
    an_import_takes_its_new_identifiers_at_once_around_those_given,
    new_risks_of_an_import_keep_source_keys_unique_with_one_lookup,
);
both_with!(imports_are_checked_before_anything_is_written, |config| {
    config.limits.max_import_rows = 3;
});

const IMPORT: &str = "mutation($r: ID!, $csv: String!, $by: ImportMatch, $dry: Boolean) {
    importRisks(registerId: $r, csv: $csv, matchBy: $by, dryRun: $dry) {
        created updated unchanged written errors { row column message } } }";

/// The register's export as the client receives it: status, content type, body.
async fn export(client: &Client, register: &str, query: &str) -> (u16, String, String) {
    let (status, kind, body) = download(client, &format!("{register}/risks.csv{query}")).await;
    (status, kind, String::from_utf8(body).expect("UTF-8"))
}

/// `GET /registers/{path}`: status, content type, body.
async fn download(client: &Client, path: &str) -> (u16, String, Vec<u8>) {
    let base = client.url.trim_end_matches("/graphql");
    let mut request = client.http.get(format!("{base}/registers/{path}"));
    if let Some(token) = &client.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("export");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await.expect("body").to_vec();
    (status, kind, body)
}

/// The cells of the first sheet of a workbook, row by row: text as it
/// reads, numbers as numbers.
fn sheet(xlsx: &[u8]) -> Vec<Vec<Value>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).expect("a zip file");
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut archive
            .by_name("xl/worksheets/sheet1.xml")
            .expect("a sheet"),
        &mut xml,
    )
    .expect("UTF-8");
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    let column = |reference: &str| {
        reference
            .chars()
            .take_while(char::is_ascii_uppercase)
            .fold(0, |n, c| n * 26 + (c as usize - 'A' as usize + 1))
            - 1
    };
    doc.descendants()
        .filter(|n| n.has_tag_name("row"))
        .map(|row| {
            let mut cells = Vec::new();
            for c in row.children().filter(|n| n.has_tag_name("c")) {
                let at = column(c.attribute("r").unwrap_or("A"));
                cells.resize(at + 1, json!(""));
                let text = |tag: &str| {
                    c.descendants()
                        .find(|n| n.has_tag_name(tag))
                        .and_then(|n| n.text())
                        .unwrap_or_default()
                        .to_owned()
                };
                cells[at] = match c.attribute("t") {
                    Some("inlineStr") => json!(text("t")),
                    _ => json!(text("v").parse::<f64>().expect("a number")),
                };
            }
            cells
        })
        .collect()
}

/// The rows of a CSV file, header first, read as a spreadsheet would.
fn rows(csv: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

/// The cell of `column` in `row`.
fn cell<'a>(table: &'a [Vec<String>], row: usize, column: &str) -> &'a str {
    let at = table[0]
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    &table[row][at]
}

fn write(table: &[Vec<String>]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in table {
        writer.write_record(row).expect("row");
    }
    String::from_utf8(writer.into_inner().expect("csv")).expect("utf-8")
}

async fn import(client: &Client, register: &str, csv: &str, extra: Value) -> Value {
    let mut variables = json!({ "r": register, "csv": csv });
    if let (Some(v), Some(extra)) = (variables.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    client.ok(IMPORT, variables).await["importRisks"].clone()
}

async fn member(client: &Client, subject: &str, email: &str) -> String {
    let mutation = "mutation($i: CreateMemberInput!) { createMember(input: $i) { id } }";
    let input = json!({ "subject": subject, "email": email, "role": "EDITOR" });
    fixtures::created(client, mutation, json!({ "i": input }), "createMember").await
}

async fn titles(client: &Client, register: &str) -> Vec<String> {
    by_title(client, register, "title", |n| {
        n["title"].as_str().unwrap_or_default().to_owned()
    })
    .await
}

/// The register's risks by title, each as `show` puts what `fields` selects.
async fn by_title(
    client: &Client,
    register: &str,
    fields: &str,
    show: impl Fn(&Value) -> String,
) -> Vec<String> {
    let query = format!(
        "query($r: ID!) {{ risks(filter: {{registerId: $r}}, orderBy: [{{field: TITLE}}], first: 500) {{ nodes {{ {fields} }} }} }}"
    );
    let data = client.ok(&query, json!({ "r": register })).await;
    data["risks"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(show)
        .collect()
}

async fn an_export_imports_back_unchanged_and_one_edit_changes_one_risk(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let ann = member(&admin, "ann", "ann@acme.example").await;
    let high = fixtures::severity(&admin, "High").await;
    let field = |name: &str, kind: &str, options: Value| {
        let mut input = json!({ "name": name, "type": kind });
        if !options.is_null() {
            input["options"] = options;
        }
        input
    };
    let mut fields = Vec::new();
    for input in [
        field("Business unit", "TEXT", Value::Null),
        field("Loss", "NUMBER", Value::Null),
        field("Regulated", "BOOLEAN", Value::Null),
        field("Review", "DATE", Value::Null),
        field("Reviewer", "USER", Value::Null),
        field("Tags", "MULTI_SELECT", json!(["a", "b", "c"])),
        // Named like a risk field: its column says it is the custom one.
        field("Notes", "SINGLE_SELECT", json!(["x", "y"])),
    ] {
        fields.push(fixtures::custom_field(&admin, &register, input).await);
    }
    let awkward = "He said \"no\", then\nleft; Überfall — 東京";
    let full = fixtures::risk(
        &admin,
        &register,
        "Full, \"quoted\" risk",
        json!({
            "description": awkward, "category": "Security", "severityId": high, "ownerId": ann,
            "likelihoodLevel": 3, "impactLevel": 4, "toleranceLevel": 1, "treatment": "MITIGATE",
            "mitigationTargetAt": "2026-06-30", "source": "Jira", "sourceId": "SEC-1",
            "customFields": [
                { "fieldId": fields[0], "text": "EMEA" },
                { "fieldId": fields[1], "number": 12500.5 },
                { "fieldId": fields[2], "boolean": true },
                { "fieldId": fields[3], "date": "2026-05-01" },
                { "fieldId": fields[4], "userId": ann },
                { "fieldId": fields[5], "selections": ["c", "a"] },
                { "fieldId": fields[6], "selection": "y" },
            ],
        }),
    )
    .await;
    let bare = fixtures::risk(&admin, &register, "Bare", json!({})).await;

    let (status, kind, body) = export(&admin, &register, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let table = rows(&body);
    assert_eq!(table.len(), 3, "a header and one row per risk");
    assert!(table.iter().all(|r| r.len() == table[0].len()));
    for header in [
        "id",
        "identifier",
        "residualScore",
        "residualBand",
        "Business unit",
    ] {
        assert!(table[0].iter().any(|h| h == header), "{header}");
    }
    assert!(table[0].iter().any(|h| h == "notes"));
    assert!(table[0].iter().any(|h| h == "Notes (custom field)"));
    // Oldest first, as `risks` lists them.
    assert_eq!(cell(&table, 1, "id"), full["id"]);
    assert_eq!(cell(&table, 1, "description"), awkward);
    assert_eq!(cell(&table, 1, "severity"), "high");
    assert_eq!(cell(&table, 1, "owner"), "ann@acme.example");
    assert_eq!(cell(&table, 1, "Reviewer"), "ann@acme.example");
    assert_eq!(cell(&table, 1, "Tags"), "c; a");
    assert_eq!(cell(&table, 1, "Notes (custom field)"), "y");
    assert_eq!(cell(&table, 1, "Loss"), "12500.5");
    assert_eq!(cell(&table, 1, "Regulated"), "true");
    assert_eq!(
        cell(&table, 1, "residualScore").parse::<f64>().ok(),
        full["residual"]["score"].as_f64()
    );
    assert_eq!(
        cell(&table, 1, "residualBand"),
        full["residual"]["band"]["name"]
    );
    assert_eq!(cell(&table, 2, "Tags"), "");
    assert_eq!(cell(&table, 2, "severity"), "");

    let same = import(&admin, &register, &body, json!({})).await;
    assert_eq!(
        same,
        json!({ "created": 0, "updated": 0, "unchanged": 2, "written": true, "errors": [] })
    );
    assert!(
        fixtures::events(&app, Events::Caused("RISKS_IMPORTED"))
            .await
            .is_empty(),
        "an unchanged file writes no event"
    );

    let mut edited = table.clone();
    let category = edited[0]
        .iter()
        .position(|h| h == "category")
        .expect("category");
    edited[2][category] = "Operations".into();
    let once = import(&admin, &register, &write(&edited), json!({})).await;
    assert_eq!(
        (&once["updated"], &once["unchanged"], &once["created"]),
        (&json!(1), &json!(1), &json!(0))
    );
    let events = fixtures::events(&app, Events::Caused("RISKS_IMPORTED")).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].risk_id, bare["id"].as_str().unwrap_or_default());
    let changes: Value = serde_json::from_str(&events[0].changes).expect("changes");
    assert_eq!(changes.as_array().map(Vec::len), Some(1), "{changes}");
    assert_eq!(changes[0]["field"], "category");
    let data = admin
        .ok(
            "query($a: ID!, $b: ID!) { a: risk(id: $a) { version } b: risk(id: $b) { category version } }",
            json!({ "a": full["id"], "b": bare["id"] }),
        )
        .await;
    assert_eq!(data["a"]["version"], full["version"]);
    assert_eq!(data["b"], json!({ "category": "Operations", "version": 2 }));
    // A file with only some columns changes only those.
    let partial = format!(
        "identifier,title\n{},Renamed\n",
        full["identifier"].as_str().unwrap_or_default()
    );
    let renamed = import(&admin, &register, &partial, json!({})).await;
    assert_eq!(renamed["updated"], 1);
    let (_, _, after) = export(&admin, &register, "").await;
    let after = rows(&after);
    assert_eq!(cell(&after, 1, "title"), "Renamed");
    assert_eq!(cell(&after, 1, "description"), awkward);
    assert_eq!(cell(&after, 1, "Tags"), "c; a");
}

async fn one_bad_row_writes_nothing_and_every_problem_is_named(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    fixtures::severity(&admin, "High").await;
    let csv = "title,likelihoodLevel,severity,status\n\
               Good one,1,high,OPEN\n\
               Bad one,high,nope,OPEN\n\
               \n\
               Also good,2,,pending\n\
               Out of range,9,,OPEN\n\
               ,1,,OPEN\n";
    let result = import(&admin, &register, csv, json!({})).await;
    assert_eq!(result["written"], false);
    assert_eq!(result["created"], 2, "the good rows are counted");
    let errors: Vec<(i64, String)> = result["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            assert!(!e["message"].as_str().unwrap_or_default().is_empty());
            (
                e["row"].as_i64().unwrap_or_default(),
                e["column"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    // Rows count from the header as 1; the blank line is not a row.
    assert_eq!(
        errors,
        [
            (3, "likelihoodLevel".to_owned()),
            (3, "severity".to_owned()),
            (5, "likelihoodLevel".to_owned()),
            (6, "title".to_owned()),
        ]
    );
    assert!(
        titles(&admin, &register).await.is_empty(),
        "nothing written"
    );
    assert!(
        fixtures::events(&app, Events::Caused("RISKS_IMPORTED"))
            .await
            .is_empty()
    );
    // Two rows about one risk, and an unknown column, are refused too.
    let twice = "identifier,title\nRA-9,a\nRA-9,b\n";
    let result = import(&admin, &register, twice, json!({})).await;
    assert_eq!(
        result["errors"],
        json!([{ "row": 3, "column": null, "message": "row 2 is about the same risk" }])
    );
    let typo = import(&admin, &register, "title,categroy\nx,y\n", json!({})).await;
    assert_eq!(typo["errors"][0]["row"], 1);
    assert_eq!(typo["errors"][0]["column"], "categroy");
    assert!(titles(&admin, &register).await.is_empty());
}

async fn another_organizations_names_read_like_unknown_ones(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let other = app.admin("globex");
    let theirs_register = fixtures::register(&other, "GX").await;
    member(&other, "bob", "bob@globex.example").await;
    fixtures::severity(&other, "Critical").await;
    let theirs = fixtures::risk(
        &other,
        &theirs_register,
        "Theirs",
        json!({ "source": "Jira", "sourceId": "G-1" }),
    )
    .await;
    let csv = "title,owner,severity\nA,bob@globex.example,\nB,nobody@acme.example,\nC,,critical\n";
    let result = import(&admin, &register, csv, json!({})).await;
    let messages: Vec<&str> = result["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0].replace("bob@globex.example", "X"),
        messages[1].replace("nobody@acme.example", "X"),
        "a foreign member reads like an unknown one"
    );
    assert!(messages[2].contains("no severity"), "{}", messages[2]);
    // Their source key is not ours: matching by it creates our own risk.
    let csv = "source,sourceId,title\nJira,G-1,Ours\n";
    let result = import(&admin, &register, csv, json!({ "by": "SOURCE_ID" })).await;
    assert_eq!(
        (&result["created"], &result["updated"]),
        (&json!(1), &json!(0))
    );
    // And their register is not a register to import into.
    let error = admin
        .err(IMPORT, json!({ "r": theirs_register, "csv": "title\nx\n" }))
        .await;
    error.assert("BAD_USER_INPUT", Some("registerId"));
    let data = other
        .ok(
            "query($id: ID!) { risk(id: $id) { title version } }",
            json!({ "id": theirs["id"] }),
        )
        .await;
    assert_eq!(data["risk"], json!({ "title": "Theirs", "version": 1 }));
    assert_eq!(titles(&other, &theirs_register).await, ["Theirs"]);
}

async fn rows_match_by_source_and_source_id(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let elsewhere = fixtures::register(&admin, "RB").await;
    let tracked = fixtures::risk(
        &admin,
        &register,
        "Tracked",
        json!({ "source": "Jira", "sourceId": "SEC-1", "category": "Old" }),
    )
    .await;
    fixtures::risk(
        &admin,
        &elsewhere,
        "Elsewhere",
        json!({ "source": "Jira", "sourceId": "SEC-2" }),
    )
    .await;
    let csv = "source,sourceId,title,category\nJira,SEC-1,Tracked,New\nJira,SEC-3,Fresh,\n";
    let result = import(&admin, &register, csv, json!({ "by": "SOURCE_ID" })).await;
    assert_eq!(
        (&result["updated"], &result["created"], &result["written"]),
        (&json!(1), &json!(1), &json!(true)),
        "{result}"
    );
    let data = admin
        .ok(
            "query($id: ID!) { risk(id: $id) { category version } }",
            json!({ "id": tracked["id"] }),
        )
        .await;
    assert_eq!(data["risk"], json!({ "category": "New", "version": 2 }));
    assert_eq!(titles(&admin, &register).await, ["Fresh", "Tracked"]);
    // A key of a risk in another register of the organization is named.
    let moved = import(
        &admin,
        &register,
        "source,sourceId,title\nJira,SEC-2,Moved\n",
        json!({ "by": "SOURCE_ID" }),
    )
    .await;
    assert_eq!(moved["errors"][0]["column"], "sourceId");
    // Matching by source needs both columns, and both cells.
    let header = import(
        &admin,
        &register,
        "sourceId,title\nSEC-1,x\n",
        json!({ "by": "SOURCE_ID" }),
    )
    .await;
    assert_eq!(header["errors"][0]["row"], 1);
    assert_eq!(header["errors"][0]["column"], "source");
    let cell = import(
        &admin,
        &register,
        "source,sourceId,title\n,SEC-1,x\n",
        json!({ "by": "SOURCE_ID" }),
    )
    .await;
    assert_eq!(cell["errors"][0]["row"], 2);
    assert_eq!(cell["errors"][0]["column"], "source");
}

async fn imports_are_checked_before_anything_is_written(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let dry = import(&admin, &register, "title\na\nb\n", json!({ "dry": true })).await;
    assert_eq!(
        dry,
        json!({ "created": 2, "updated": 0, "unchanged": 0, "written": false, "errors": [] })
    );
    assert!(
        titles(&admin, &register).await.is_empty(),
        "a dry run writes nothing"
    );
    let error = admin
        .err(
            IMPORT,
            json!({ "r": register, "csv": "title\na\nb\nc\nd\n" }),
        )
        .await;
    error.assert("LIMIT_EXCEEDED", None);
    let error = admin.err(IMPORT, json!({ "r": register, "csv": "" })).await;
    error.assert("BAD_USER_INPUT", Some("csv"));
    let error = admin
        .err(IMPORT, json!({ "r": "reg_unknown", "csv": "title\na\n" }))
        .await;
    error.assert("BAD_USER_INPUT", Some("registerId"));
    let viewer = app.client("acme", "vic", "viewer");
    let error = viewer
        .err(IMPORT, json!({ "r": register, "csv": "title\na\n" }))
        .await;
    error.assert("FORBIDDEN", None);
    let done = import(&admin, &register, "title\na\nb\nc\n", json!({})).await;
    assert_eq!(done["created"], 3);
    assert_eq!(titles(&admin, &register).await, ["a", "b", "c"]);
    let events = fixtures::events(&app, Events::Caused("RISKS_IMPORTED")).await;
    assert_eq!(events.len(), 3, "one event per created risk");
    assert!(events.iter().all(|e| e.kind == "CREATED"));
}

async fn an_import_takes_its_new_identifiers_at_once_around_those_given(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    fixtures::risk(
        &admin,
        &register,
        "by hand",
        json!({ "identifier": "RA-2" }),
    )
    .await;
    // New rows without an identifier take the register's next numbers,
    // skipping those in use and those the file gives to other rows.
    let csv = "identifier,title\n,a\nRA-1,b\n,c\n";
    let result = import(&admin, &register, csv, json!({})).await;
    assert_eq!(result["errors"], json!([]));
    assert_eq!(result["created"], 3);
    let identifiers = || {
        by_title(&admin, &register, "title identifier", |n| {
            let text = |field: &str| n[field].as_str().unwrap_or_default().to_owned();
            format!("{} {}", text("title"), text("identifier"))
        })
    };
    assert_eq!(
        identifiers().await,
        ["a RA-3", "b RA-1", "by hand RA-2", "c RA-4"]
    );
    let next = fixtures::risk(&admin, &register, "next", json!({})).await;
    assert_eq!(next["identifier"], "RA-5", "the counter moved past them");
    // However many rows, the identifiers cost a few statements: each new
    // risk is one write, an INSERT into each of its two tables.
    let before = app.statements();
    let rows: String = (0..40).map(|k| format!("new {k}\n")).collect();
    let result = import(&admin, &register, &format!("title\n{rows}"), json!({})).await;
    assert_eq!(result["created"], 40);
    let statements = app.statements() - before;
    assert!(
        statements <= 2 * 40 + 20,
        "{statements} statements for 40 new risks"
    );
    assert!(identifiers().await.contains(&"new 39 RA-45".to_owned()));
}

async fn new_risks_of_an_import_keep_source_keys_unique_with_one_lookup(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let elsewhere = fixtures::register(&admin, "RB").await;
    let held = fixtures::risk(
        &admin,
        &elsewhere,
        "Held",
        json!({ "source": "Jira", "sourceId": "SEC-1" }),
    )
    .await;
    let moved = fixtures::risk(
        &admin,
        &register,
        "Moved",
        json!({ "source": "Jira", "sourceId": "SEC-2" }),
    )
    .await;
    let moved_id = moved["identifier"].as_str().unwrap_or_default();
    // Matched by identifier: a new risk may not take a key another risk of
    // the organization holds, nor one an earlier row took; a key an earlier
    // row gave up is free.
    let csv = format!(
        "identifier,source,sourceId,title\n\
         ,Jira,SEC-1,Taken\n\
         ,Jira,SEC-3,First\n\
         ,Jira,SEC-3,Second\n\
         {moved_id},Jira,SEC-4,Moved\n\
         ,Jira,SEC-2,Freed\n"
    );
    let result = import(&admin, &register, &csv, json!({ "dry": true })).await;
    let refused: Vec<(Value, Value)> = result["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["row"].clone(), e["column"].clone()))
        .collect();
    assert_eq!(
        refused,
        [(json!(2), json!("sourceId")), (json!(4), json!("sourceId"))],
        "{result}"
    );
    assert_eq!(
        (&result["created"], &result["updated"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(held["title"], "Held");
    // Without those two rows it is written, and the keys stay unique
    // however many rows: one lookup for all, one write (two INSERTs) a new
    // risk.
    let rows: String = (0..40).map(|k| format!(",Sheet,S-{k},new {k}\n")).collect();
    let csv = format!(
        "identifier,source,sourceId,title\n{moved_id},Jira,SEC-4,Moved\n,Jira,SEC-2,Freed\n{rows}"
    );
    let before = app.statements();
    let result = import(&admin, &register, &csv, json!({})).await;
    assert_eq!(result["errors"], json!([]));
    assert_eq!(
        (&result["created"], &result["updated"]),
        (&json!(41), &json!(1))
    );
    let statements = app.statements() - before;
    assert!(
        statements <= 2 * 41 + 25,
        "{statements} statements for 41 new risks"
    );
    let again = import(
        &admin,
        &register,
        "source,sourceId,title\nSheet,S-7,again\n",
        json!({}),
    )
    .await;
    assert_eq!(again["errors"][0]["column"], "sourceId");
}

async fn an_export_takes_the_arguments_of_risks_and_streams_every_batch(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    // More than one batch of the export (1,000 rows), in one import.
    let mut csv = String::from("title,category,likelihoodLevel,impactLevel\n");
    for n in 0..1205 {
        let category = if n % 5 == 0 { "Security" } else { "Finance" };
        csv.push_str(&format!("Risk {n:04},{category},{},{}\n", n % 5, n % 3));
    }
    let result = import(&admin, &register, &csv, json!({})).await;
    assert_eq!(result["created"], 1205, "{result}");
    let (status, _, body) = export(&admin, &register, "").await;
    assert_eq!(status, 200);
    let table = rows(&body);
    assert_eq!(table.len(), 1206);
    let mut ids: Vec<&str> = table[1..].iter().map(|r| r[0].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1205, "every risk once");
    // The arguments of `risks`, as JSON; a viewer may export, with ?token=.
    let viewer = app.client("acme", "vic", "viewer");
    let filter = r#"{"category":["Security"],"impactLevel":[0]}"#;
    let order = r#"[{"field":"TITLE","direction":"DESC"}]"#;
    let query = format!(
        "?filter={}&orderBy={}&search=risk%2001&token={}",
        urlencode(filter),
        urlencode(order),
        viewer.token.as_deref().unwrap_or_default()
    );
    let (status, _, body) = export(&app.anonymous(), &register, &query).await;
    assert_eq!(status, 200, "{body}");
    let table = rows(&body);
    let titles: Vec<&str> = table[1..].iter().map(|r| r[2].as_str()).collect();
    // Security is every fifth risk, impact 0 every third: n % 15 == 0.
    assert_eq!(
        titles,
        [
            "Risk 0195",
            "Risk 0180",
            "Risk 0165",
            "Risk 0150",
            "Risk 0135",
            "Risk 0120",
            "Risk 0105"
        ]
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn an_export_refuses_like_the_api(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let other = app.admin("globex");
    let theirs = fixtures::register(&other, "GX").await;
    let code = |body: &str| -> String {
        let body: Value = serde_json::from_str(body).expect("a JSON error");
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (status, _, body) = export(&app.anonymous(), &register, "").await;
    assert_eq!((status, code(&body).as_str()), (401, "UNAUTHENTICATED"));
    let (status, _, body) = export(&admin, &theirs, "").await;
    assert_eq!((status, code(&body).as_str()), (404, "NOT_FOUND"));
    let (status, _, unknown) = export(&admin, "reg_unknown", "").await;
    assert_eq!(
        unknown, body,
        "a foreign register reads like an unknown one"
    );
    assert_eq!(status, 404);
    let (status, _, body) = export(
        &admin,
        &register,
        "?filter=%7B%22status%22%3A%5B%22NOPE%22%5D%7D",
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "BAD_USER_INPUT"));
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["errors"][0]["extensions"]["field"], "filter");
    let (status, _, body) = export(&admin, &register, "?orderBy=not-json").await;
    assert_eq!((status, code(&body).as_str()), (400, "BAD_USER_INPUT"));
    let long = format!("?search={}", "x".repeat(300));
    let (status, _, body) = export(&admin, &register, &long).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "BAD_USER_INPUT"),
        "{body}"
    );
}

async fn a_workbook_holds_what_the_csv_holds(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let loss = fixtures::custom_field(
        &admin,
        &register,
        json!({ "name": "Loss", "type": "NUMBER" }),
    )
    .await;
    let values = json!({ "likelihoodLevel": 2, "impactLevel": 3, "description": "a, \"b\"\nc",
        "customFields": [{ "fieldId": loss, "number": 1250.75 }] });
    fixtures::risk(&admin, &register, "Scored", values).await;
    fixtures::risk(&admin, &register, "Bare", json!({})).await;
    let (_, _, csv) = export(&admin, &register, "").await;
    let (status, kind, xlsx) = download(&admin, &format!("{register}/risks.xlsx")).await;
    assert_eq!(status, 200);
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let table = rows(&csv);
    let sheet = sheet(&xlsx);
    assert_eq!(sheet.len(), table.len());
    // Levels, scores, the version and NUMBER fields are numbers to Excel.
    let numbers = [
        "likelihoodLevel",
        "impactLevel",
        "inherentScore",
        "residualLikelihoodOverride",
        "residualImpactOverride",
        "residualLikelihoodLevel",
        "residualImpactLevel",
        "residualScore",
        "toleranceLevel",
        "version",
        "Loss",
    ];
    for (r, (csv_row, sheet_row)) in table.iter().zip(&sheet).enumerate() {
        for (c, cell) in csv_row.iter().enumerate() {
            let got = sheet_row.get(c).cloned().unwrap_or(json!(""));
            let numeric = r > 0 && !cell.is_empty() && numbers.contains(&table[0][c].as_str());
            let want = if numeric {
                json!(cell.parse::<f64>().expect("number"))
            } else {
                json!(cell)
            };
            assert_eq!(got, want, "row {r}, column {}", table[0][c]);
        }
    }
    assert_eq!(cell(&table, 1, "Loss"), "1250.75");
}
