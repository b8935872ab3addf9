/// The checked-in schema is the generated one.
#[test]
fn schema_graphql_is_up_to_date() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql at the workspace root");
    assert!(
        checked_in == riskgraph::graphql::sdl(),
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}
