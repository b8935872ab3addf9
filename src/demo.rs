//! `serve --demo`: a demo organization with a 5x5 register, severities,
//! custom fields, controls and about 60 varied risks, seeded through the same store
//! functions the API uses.

use crate::app::AppState;
use crate::auth::Claims;
use crate::domain::date::Date;
use crate::domain::enums::{
    ClosureReason, ControlHealth, CustomFieldType, MitigationTarget, NumberFormat, RiskStage,
    RiskStatus, TreatmentStrategy,
};
use crate::domain::inputs::{
    CreateControlInput, CreateCustomFieldInput, CreateRegisterInput, CreateRiskInput,
    CreateSeverityInput,
};
use crate::domain::risk::CustomFieldValueInput;
use crate::error::{AppError, AppResult};
use crate::store;
use async_graphql::ID;
use entity::organization;
use sea_orm::{EntityTrait, PaginatorTrait};

pub const ORG: &str = "demo";
pub const ADMIN: &str = "demo-admin";

const TOPICS: &[(&str, &str)] = &[
    ("Phishing leads to credential theft", "Security"),
    ("Ransomware encrypts file servers", "Security"),
    ("Cloud storage bucket left public", "Security"),
    ("Key supplier goes out of business", "Third party"),
    ("Payment provider outage", "Third party"),
    ("GDPR subject request missed", "Compliance"),
    ("SOC 2 control evidence incomplete", "Compliance"),
    ("Data center power failure", "Operations"),
    ("Release breaks checkout", "Operations"),
    ("Key engineer leaves", "People"),
    ("Laptop stolen with customer data", "Security"),
    ("Currency swings cut margin", "Financial"),
];
const DEPARTMENTS: &[&str] = &["Engineering", "Finance", "Legal", "Operations", "Sales"];
const UNITS: &[&str] = &["EMEA", "Americas", "APAC"];

/// Seeds the demo organization when the database has none; returns its key.
pub async fn seed(state: &AppState) -> AppResult<Option<String>> {
    let db = &state.db;
    if organization::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let now = state.clock.now();
    let claims = Claims {
        sub: ADMIN.into(),
        org: ORG.into(),
        role: "admin".into(),
        exp: i64::MAX,
        name: Some("Demo admin".into()),
        email: Some("admin@demo.example".into()),
    };
    let admin = store::members::principal_for(db, &claims, now).await?;
    let register = store::registers::create(
        db,
        &admin,
        CreateRegisterInput {
            name: "Enterprise risks".into(),
            description: Some("The company-wide register, scored on the default 5x5.".into()),
            identifier_prefix: "RA".into(),
            scales: None,
            preset: None,
        },
        now,
    )
    .await?;
    let mut severities = Vec::new();
    for (position, name) in ["Low", "Medium", "High", "Critical"]
        .into_iter()
        .enumerate()
    {
        let severity = store::severities::create(
            db,
            &admin,
            CreateSeverityInput {
                name: name.into(),
                description: None,
                information: None,
                position: i32::try_from(position).ok(),
                disabled: None,
                source: None,
                source_id: None,
            },
            now,
        )
        .await?;
        severities.push(severity.id);
    }
    let field =
        |name: &str, field_type, number_format, options: Option<&[&str]>| CreateCustomFieldInput {
            register_id: ID(register.id.clone()),
            name: name.into(),
            field_type,
            number_format,
            options: options.map(|o| o.iter().map(|s| (*s).to_owned()).collect()),
            required: None,
            position: None,
        };
    let unit = store::custom_fields::create(
        db,
        &admin,
        field(
            "Business unit",
            CustomFieldType::SingleSelect,
            None,
            Some(UNITS),
        ),
        now,
    )
    .await?;
    let loss = store::custom_fields::create(
        db,
        &admin,
        field(
            "Annual loss expectancy",
            CustomFieldType::Number,
            Some(NumberFormat::Decimal),
            None,
        ),
        now,
    )
    .await?;
    let regulated = store::custom_fields::create(
        db,
        &admin,
        field("Regulatory", CustomFieldType::Boolean, None, None),
        now,
    )
    .await?;

    let mut controls = Vec::new();
    for (identifier, name, health, effectiveness) in [
        (
            "C-1",
            "Multi-factor authentication",
            ControlHealth::Healthy,
            0.7,
        ),
        (
            "C-2",
            "Nightly backups with restore tests",
            ControlHealth::AtRisk,
            0.6,
        ),
        ("C-3", "Supplier due diligence", ControlHealth::Healthy, 0.4),
        ("C-4", "Change approval board", ControlHealth::Critical, 0.5),
    ] {
        let control = store::controls::create(
            db,
            &admin,
            CreateControlInput {
                identifier: Some(identifier.into()),
                name: name.into(),
                description: None,
                health: Some(health),
                effectiveness: Some(effectiveness),
            },
            now,
        )
        .await?;
        controls.push(control.id);
    }

    for n in 0..60_usize {
        let (topic, category) = TOPICS[n % TOPICS.len()];
        // A fixed spread over the 5x5 grid, statuses and treatments, so the
        // heatmap and filters have something to show.
        let likelihood = i32::try_from((n * 7 + 3) % 5).unwrap_or(0);
        let impact = i32::try_from((n * 3 + n / 5) % 5).unwrap_or(0);
        let status = match n % 10 {
            0 => RiskStatus::Closed,
            1 | 2 => RiskStatus::Pending,
            3 => RiskStatus::Materialized,
            _ => RiskStatus::Open,
        };
        let treatment = TreatmentStrategy::ALL[n % TreatmentStrategy::ALL.len()];
        let value = |field_id: &str| CustomFieldValueInput {
            field_id: ID(field_id.to_owned()),
            text: None,
            number: None,
            boolean: None,
            date: None,
            user_id: None,
            selection: None,
            selections: None,
        };
        let input = CreateRiskInput {
            register_id: ID(register.id.clone()),
            identifier: None,
            title: format!("{topic} ({})", n / TOPICS.len() + 1),
            description: Some(format!("Demo risk {n}: {topic}.")),
            category: Some(category.into()),
            department: Some(DEPARTMENTS[n % DEPARTMENTS.len()].into()),
            status: Some(status),
            stage: Some(RiskStage::ALL[n % RiskStage::ALL.len()]),
            closure_reason: (status == RiskStatus::Closed).then_some(ClosureReason::Mitigated),
            severity_id: Some(ID(severities[n % severities.len()].clone())),
            owner_id: Some(ID(admin.member_id.clone())),
            likelihood_level: (n % 13 != 0).then_some(likelihood),
            impact_level: Some(impact),
            likelihood_rationale: None,
            impact_rationale: None,
            residual_likelihood_override: (n % 9 == 0).then_some(0),
            residual_impact_override: None,
            residual_override_reason: (n % 9 == 0).then(|| "Compensating manual review".into()),
            tolerance_level: Some(i32::try_from(n % 4).unwrap_or(0)),
            treatment: Some(treatment),
            treatment_description: None,
            treatment_rationale: None,
            mitigation_target_at: chrono::NaiveDate::from_ymd_opt(
                2027,
                u32::try_from(n % 12 + 1).unwrap_or(1),
                15,
            )
            .map(Date),
            notes: None,
            source: None,
            source_id: None,
            custom_fields: Some(vec![
                CustomFieldValueInput {
                    selection: Some(UNITS[n % UNITS.len()].into()),
                    ..value(&unit.id)
                },
                CustomFieldValueInput {
                    number: Some(f64::from(u32::try_from(n).unwrap_or(0) * 2_500 + 10_000)),
                    ..value(&loss.id)
                },
                CustomFieldValueInput {
                    boolean: Some(category == "Compliance"),
                    ..value(&regulated.id)
                },
            ]),
        };
        let risk = store::risks::create(db, &admin, input, now)
            .await
            .map_err(|e| AppError::internal(("demo risk", n, e.message())))?;
        if n % 3 != 2 {
            let reduces = MitigationTarget::ALL[n % MitigationTarget::ALL.len()];
            let control = controls[n % controls.len()].as_str();
            store::controls::link(db, &admin, (&risk.id, control), reduces, None, now).await?;
        }
    }
    Ok(Some(ORG.to_owned()))
}
