//! What riskgraph serves besides the API: the dashboard and GraphiQL pages
//! with their assets, and the heatmap image.

use crate::both;
use crate::fixtures;
use crate::helpers::TestApp;
use serde_json::json;
use std::collections::HashMap;

both!(the_heatmap_image_draws_every_cell_with_its_count);

async fn the_heatmap_image_draws_every_cell_with_its_count(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    for (l, i, status) in [
        (0, 0, "OPEN"),
        (4, 4, "OPEN"),
        (4, 4, "PENDING"),
        (2, 3, "CLOSED"),
    ] {
        let input = json!({ "likelihoodLevel": l, "impactLevel": i, "status": status });
        fixtures::risk(&admin, &register, "t", input).await;
    }
    let api = admin
        .ok(
            "query($r: ID!) { heatmap(registerId: $r, basis: INHERENT) { cells { likelihoodLevel impactLevel count } } }",
            json!({ "r": register }),
        )
        .await;
    let expected: HashMap<(i64, i64), i64> = api["heatmap"]["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            let n = |k: &str| c[k].as_i64().unwrap_or(-1);
            ((n("likelihoodLevel"), n("impactLevel")), n("count"))
        })
        .collect();
    assert_eq!(expected.len(), 25);
    assert_eq!(expected[&(4, 4)], 2);
    assert_eq!(expected[&(2, 3)], 0, "closed risks are not counted");

    let base = app.url.trim_end_matches("/graphql").to_owned();
    let image = format!("{base}/registers/{register}/heatmap.svg");
    let token = admin.token.clone().unwrap_or_default();
    let response = app
        .http
        .get(format!("{image}?basis=inherent&token={token}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("image/svg+xml")
    );
    let svg = response.text().await.expect("text");
    let doc = roxmltree::Document::parse(&svg).expect("the image is XML");
    let mut drawn = HashMap::new();
    for cell in doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("cell"))
    {
        let n = |k: &str| {
            cell.attribute(k)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(-1)
        };
        let key = (n("data-likelihood"), n("data-impact"));
        assert!(
            drawn.insert(key, n("data-count")).is_none(),
            "one cell per pair"
        );
        let text: String = cell
            .descendants()
            .filter(|d| d.has_tag_name("text"))
            .filter_map(|d| d.text())
            .collect();
        assert_eq!(text, n("data-count").to_string(), "the count is written");
    }
    assert_eq!(drawn, expected);

    // Authenticated like the API; another organization sees no register.
    let refused = app.http.get(&image).send().await.expect("answers");
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let stranger = app.admin("globex").token.clone().unwrap_or_default();
    let hidden = app
        .http
        .get(&image)
        .bearer_auth(stranger)
        .send()
        .await
        .expect("answers");
    assert_eq!(hidden.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_load_only_what_the_server_serves() {
    let Some(app) = TestApp::start_with(crate::helpers::Backend::Sqlite, |_| {}).await else {
        return;
    };
    let base = app.url.trim_end_matches("/graphql").to_owned();
    for page in ["/", "/graphiql"] {
        let response = app
            .http
            .get(format!("{base}{page}"))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 200, "{page}");
        let html = response.text().await.expect("html");
        let sources: Vec<&str> = html
            .split(['"', '\''])
            .filter(|s| s.starts_with("/assets/") || s.contains("://"))
            .collect();
        assert!(!sources.is_empty(), "{page} loads assets");
        for source in sources {
            assert!(
                source.starts_with("/assets/"),
                "{page} loads {source} from elsewhere"
            );
            let asset = app
                .http
                .get(format!("{base}{source}"))
                .send()
                .await
                .expect("answers");
            assert_eq!(asset.status(), 200, "{source}");
            let kind = asset.headers()["content-type"]
                .to_str()
                .unwrap_or("")
                .to_owned();
            let wanted = if source.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            };
            assert!(kind.starts_with(wanted), "{source}: {kind}");
        }
    }
}
