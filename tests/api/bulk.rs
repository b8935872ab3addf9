//! Many risks at once, written straight into the tables (through the API
//! they would take minutes) and scored by the same domain code the API
//! uses: the scale tests and the load bench start from here.

use riskgraph::domain::enums::{ControlHealth, MitigationTarget};
use riskgraph::domain::risk::rescore;
use riskgraph::domain::scales::Scales;
use riskgraph::domain::scoring::Mitigation;
use sea_orm::{DatabaseConnection, EntityTrait};

/// What the risks refer to and how many of them a control reduces.
pub struct Bulk<'a> {
    /// A risk made through the API; the copies take its organization,
    /// register, owner and severity.
    pub template: &'a entity::risk::Model,
    pub scales: &'a Scales,
    /// A control (at effectiveness `strength`, healthy) linked to every
    /// `every`-th risk.
    pub control: Option<(&'a str, f64, usize)>,
    /// A TEXT custom field every risk holds a value of.
    pub field: Option<&'a str>,
}

/// Risk `k`'s rows: the risk, its custom value, its control link.
type Rows = (
    entity::risk::Model,
    Option<entity::custom_field_value::Model>,
    Option<entity::risk_control::Model>,
);

/// The categories risks take in turn.
pub const CATEGORIES: [&str; 8] = [
    "Security",
    "Finance",
    "Operations",
    "Legal",
    "Technology",
    "People",
    "Compliance",
    "Vendors",
];

impl Bulk<'_> {
    fn risk(&self, k: usize) -> Rows {
        let mut r = self.template.clone();
        r.id = format!("rsk_bulk{k:07}");
        r.identifier = format!("BULK-{k}");
        r.title = format!("Bulk risk {k}");
        // A column of `risks` that filters pick a part of the register by.
        r.category = Some(CATEGORIES[k % CATEGORIES.len()].into());
        r.likelihood_level = Some(i32::try_from(k % 5).unwrap_or(0));
        r.impact_level = Some(i32::try_from((k / 5) % 5).unwrap_or(0));
        r.tolerance_level = Some(2);
        let link = self
            .control
            .filter(|(_, _, every)| k.is_multiple_of(*every))
            .map(|(control, strength, _)| {
                let mitigation = Mitigation {
                    reduces: MitigationTarget::Both,
                    strength,
                    health: ControlHealth::Healthy,
                };
                (control, mitigation)
            });
        rescore(
            &mut r,
            self.scales,
            link.as_ref().map_or(&[], |(_, m)| std::slice::from_ref(m)),
        );
        let link = link.map(|(control, _)| entity::risk_control::Model {
            risk_id: r.id.clone(),
            control_id: control.to_owned(),
            org_id: r.org_id.clone(),
            reduces: "BOTH".into(),
            strength: None,
            created_at: r.created_at,
        });
        let value = self.field.map(|field| entity::custom_field_value::Model {
            risk_id: r.id.clone(),
            field_id: field.to_owned(),
            org_id: r.org_id.clone(),
            text_value: Some(["EMEA", "APAC", "Americas"][k % 3].into()),
            number_value: None,
            boolean_value: None,
            date_value: None,
            user_id: None,
            selection: None,
            selections: None,
        });
        (r, value, link)
    }

    /// Inserts `n` risks with their rows; returns the ids of the first 64.
    pub async fn insert(&self, db: &DatabaseConnection, n: usize) -> Vec<String> {
        // 400 rows a statement keeps SQLite under its bound-parameter limit.
        for start in (0..n).step_by(400) {
            let (mut risks, mut values, mut links) = (Vec::new(), Vec::new(), Vec::new());
            for k in start..(start + 400).min(n) {
                let (risk, value, link) = self.risk(k);
                risks.push(risk);
                values.extend(value.map(entity::custom_field_value::ActiveModel::from));
                links.extend(link.map(entity::risk_control::ActiveModel::from));
            }
            riskgraph::store::risk_tables::insert(db, &risks)
                .await
                .expect("risks");
            if !values.is_empty() {
                entity::custom_field_value::Entity::insert_many(values)
                    .exec(db)
                    .await
                    .expect("values");
            }
            if !links.is_empty() {
                entity::risk_control::Entity::insert_many(links)
                    .exec(db)
                    .await
                    .expect("links");
            }
        }
        riskgraph::store::risk_tables::after_bulk_insert(db, n).await;
        riskgraph::store::heatmaps::recount(db, &self.template.register_id)
            .await
            .expect("recount");
        (0..n.min(64)).map(|k| format!("rsk_bulk{k:07}")).collect()
    }
}
