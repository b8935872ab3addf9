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

/// Every type, field, argument, input field and enum value of the schema,
/// as `Type`, `Type.field`, `Type.field(arg)` or `Enum.VALUE`, with whether
/// it has a description.
fn described() -> Vec<(String, bool)> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let document = async_graphql::parser::parse_schema(riskgraph::graphql::sdl()).expect("SDL");
    let has = |d: &Option<async_graphql::Positioned<String>>| {
        d.as_ref().is_some_and(|d| !d.node.trim().is_empty())
    };
    let mut all = Vec::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        all.push((name.clone(), has(&ty.description)));
        let fields = match &ty.kind {
            TypeKind::Object(o) => o.fields.iter().map(|f| &f.node).collect(),
            TypeKind::Interface(i) => i.fields.iter().map(|f| &f.node).collect(),
            _ => Vec::new(),
        };
        for field in fields {
            let at = format!("{name}.{}", field.name.node);
            all.push((at.clone(), has(&field.description)));
            for arg in &field.arguments {
                all.push((
                    format!("{at}({})", arg.node.name.node),
                    has(&arg.node.description),
                ));
            }
        }
        match &ty.kind {
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    let at = format!("{name}.{}", field.node.name.node);
                    all.push((at, has(&field.node.description)));
                }
            }
            TypeKind::Enum(e) => {
                for value in &e.values {
                    let at = format!("{name}.{}", value.node.value.node);
                    all.push((at, has(&value.node.description)));
                }
            }
            _ => {}
        }
    }
    all
}

/// A client reading the schema in GraphiQL or codegen sees what each part
/// means, its unit or range, and what null means.
#[test]
fn every_part_of_the_schema_is_described() {
    let all = described();
    assert!(all.len() > 300, "the walk saw {} parts", all.len());
    let missing: Vec<&str> = all
        .iter()
        .filter(|(_, has)| !has)
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} parts have no description:\n{}",
        missing.len(),
        all.len(),
        missing.join("\n")
    );
}
