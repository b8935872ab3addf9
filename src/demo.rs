//! `serve --demo`: a demo organization with a 5x5 register, severities,
//! custom fields, controls and about 60 varied risks, seeded through the same store
//! functions the API uses.

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
use crate::store::{self, Actor};
use async_graphql::ID;
use chrono::{DateTime, Utc};
use entity::organization;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

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

/// What `seed` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Demo {
    /// The database was empty: the demo organization is there now.
    Seeded,
    /// The demo organization was there already.
    AlreadySeeded,
    /// Other organizations are there: nothing was added.
    OtherData,
}

/// Seeds the demo organization when the database holds none.
pub async fn seed(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<Demo> {
    let demo = organization::Entity::find()
        .filter(organization::Column::ExternalKey.eq(ORG))
        .count(db)
        .await?;
    if demo > 0 {
        return Ok(Demo::AlreadySeeded);
    }
    if organization::Entity::find().count(db).await? > 0 {
        return Ok(Demo::OtherData);
    }
    let claims = Claims {
        sub: ADMIN.into(),
        org: ORG.into(),
        role: "admin".into(),
        exp: i64::MAX,
        name: Some("Demo admin".into()),
        email: Some("admin@demo.example".into()),
    };
    let (admin, _) = store::members::principal_for(db, &claims, now).await?;
    let actor = Actor {
        db,
        principal: &admin,
        now,
    };
    let register = store::registers::create(
        actor,
        CreateRegisterInput {
            name: "Enterprise risks".into(),
            description: Some("The company-wide register, scored on the default 5x5.".into()),
            identifier_prefix: "RA".into(),
            ..CreateRegisterInput::default()
        },
    )
    .await?;
    let setup = Setup {
        register: register.id.clone(),
        severities: severities(actor).await?,
        fields: custom_fields(actor, &register.id).await?,
        controls: controls(actor).await?,
    };
    for n in 0..60_usize {
        let risk = store::risks::create(actor, setup.risk(n, &admin.member_id))
            .await
            .map_err(|e| AppError::internal(("demo risk", n, e.message())))?;
        if n % 3 != 2 {
            let reduces = MitigationTarget::ALL[n % MitigationTarget::ALL.len()];
            let control = setup.controls[n % setup.controls.len()].as_str();
            store::controls::link(actor, (&risk.id, control), reduces, None).await?;
        }
    }
    Ok(Demo::Seeded)
}

/// Ids of what the demo risks refer to.
struct Setup {
    register: String,
    severities: Vec<String>,
    /// Business unit, annual loss expectancy, regulatory.
    fields: [String; 3],
    controls: Vec<String>,
}

async fn severities(actor: Actor<'_>) -> AppResult<Vec<String>> {
    let mut ids = Vec::new();
    for (position, name) in (0..).zip(["Low", "Medium", "High", "Critical"]) {
        let input = CreateSeverityInput {
            name: name.into(),
            position: Some(position),
            ..CreateSeverityInput::default()
        };
        ids.push(store::severities::create(actor, input).await?.id);
    }
    Ok(ids)
}

async fn custom_fields(actor: Actor<'_>, register_id: &str) -> AppResult<[String; 3]> {
    let field = |name: &str, field_type, number_format, options: Option<&[&str]>| {
        let input = CreateCustomFieldInput {
            register_id: ID(register_id.to_owned()),
            name: name.into(),
            field_type,
            number_format,
            options: options.map(|o| o.iter().map(|s| (*s).to_owned()).collect()),
            required: None,
            position: None,
        };
        async move {
            store::custom_fields::create(actor, input)
                .await
                .map(|f| f.id)
        }
    };
    let unit = "Business unit";
    let loss = "Annual loss expectancy";
    Ok([
        field(unit, CustomFieldType::SingleSelect, None, Some(UNITS)).await?,
        field(
            loss,
            CustomFieldType::Number,
            Some(NumberFormat::Decimal),
            None,
        )
        .await?,
        field("Regulatory", CustomFieldType::Boolean, None, None).await?,
    ])
}

async fn controls(actor: Actor<'_>) -> AppResult<Vec<String>> {
    let mut ids = Vec::new();
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
        let input = CreateControlInput {
            identifier: Some(identifier.into()),
            name: name.into(),
            health: Some(health),
            effectiveness: Some(effectiveness),
            ..CreateControlInput::default()
        };
        ids.push(store::controls::create(actor, input).await?.id);
    }
    Ok(ids)
}

impl Setup {
    /// Demo risk `n`: a fixed spread over the 5x5 grid, statuses and
    /// treatments, so the heatmap and filters have something to show.
    fn risk(&self, n: usize, owner: &str) -> CreateRiskInput {
        let (topic, category) = TOPICS[n % TOPICS.len()];
        let level = |x: usize| i32::try_from(x % 5).unwrap_or(0);
        let status = match n % 10 {
            0 => RiskStatus::Closed,
            1 | 2 => RiskStatus::Pending,
            3 => RiskStatus::Materialized,
            _ => RiskStatus::Open,
        };
        let overridden = n.is_multiple_of(9);
        let [unit, loss, regulated] = &self.fields;
        let value = |field_id: &str| CustomFieldValueInput {
            field_id: ID(field_id.to_owned()),
            ..CustomFieldValueInput::default()
        };
        CreateRiskInput {
            register_id: ID(self.register.clone()),
            title: format!("{topic} ({})", n / TOPICS.len() + 1),
            description: Some(format!("Demo risk {n}: {topic}.")),
            category: Some(category.into()),
            department: Some(DEPARTMENTS[n % DEPARTMENTS.len()].into()),
            status: Some(status),
            stage: Some(RiskStage::ALL[n % RiskStage::ALL.len()]),
            closure_reason: (status == RiskStatus::Closed).then_some(ClosureReason::Mitigated),
            severity_id: Some(ID(self.severities[n % self.severities.len()].clone())),
            owner_id: Some(ID(owner.to_owned())),
            likelihood_level: (!n.is_multiple_of(13)).then_some(level(n * 7 + 3)),
            impact_level: Some(level(n * 3 + n / 5)),
            residual_likelihood_override: overridden.then_some(0),
            residual_override_reason: overridden.then(|| "Compensating manual review".into()),
            tolerance_level: i32::try_from(n % 4).ok(),
            treatment: Some(TreatmentStrategy::ALL[n % TreatmentStrategy::ALL.len()]),
            mitigation_target_at: u32::try_from(n % 12 + 1)
                .ok()
                .and_then(|month| chrono::NaiveDate::from_ymd_opt(2027, month, 15))
                .map(Date),
            custom_fields: Some(vec![
                CustomFieldValueInput {
                    selection: Some(UNITS[n % UNITS.len()].into()),
                    ..value(unit)
                },
                CustomFieldValueInput {
                    number: Some(f64::from(u32::try_from(n).unwrap_or(0) * 2_500 + 10_000)),
                    ..value(loss)
                },
                CustomFieldValueInput {
                    boolean: Some(category == "Compliance"),
                    ..value(regulated)
                },
            ]),
            ..CreateRiskInput::default()
        }
    }
}
