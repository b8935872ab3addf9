//! Heatmaps, register summaries and breakdowns: dense likelihood x impact
//! grids and counts, aggregated in SQL over the stored score columns.

use super::registers::Register;
use super::risks::Risk;
use super::scores::{RiskBand, ScaleLevel, band, levels};
use super::{ContextExt, answers};
use crate::domain::enums::{self, BreakdownKey, RiskStatus, ScoreBasis};
use crate::domain::inputs::RiskFilter;
use crate::domain::risk::Facet;
use crate::error::AppResult;
use crate::store::heatmaps::FacetNamed;
use crate::store::{self, heatmaps, risk_query};
use async_graphql::{Context, ID, Object, SimpleObject};
use entity::risk;
use sea_orm::{Condition, DatabaseConnection};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

type CellRisks = HashMap<(i32, i32), Vec<risk::Model>>;

/// The drill-down of one heatmap: every cell's risks come from one query per
/// distinct `first`, run when the first cell asks.
struct Drill {
    db: DatabaseConnection,
    condition: Condition,
    basis: ScoreBasis,
    /// The cells that hold a risk, in order.
    cells: Vec<(i32, i32)>,
    by_first: Mutex<HashMap<u64, Arc<OnceCell<CellRisks>>>>,
}

impl Drill {
    async fn cell(&self, first: u64, cell: (i32, i32)) -> AppResult<Vec<risk::Model>> {
        let once = {
            let mut by_first = self.by_first.lock().unwrap_or_else(|p| p.into_inner());
            by_first.entry(first).or_default().clone()
        };
        let all = once
            .get_or_try_init(|| {
                let condition = self.condition.clone();
                heatmaps::cell_risks(&self.db, condition, self.basis, first, &self.cells)
            })
            .await?;
        Ok(all.get(&cell).cloned().unwrap_or_default())
    }
}

pub struct Heatmap {
    register: Register,
    basis: ScoreBasis,
    counts: HashMap<(i32, i32), i64>,
    total: i64,
    unscored: i64,
    drill: Arc<Drill>,
}

/// Likelihood x impact counts of a register's risks.
#[Object]
impl Heatmap {
    /// The register.
    fn register(&self) -> &Register {
        &self.register
    }
    /// Whether risks sit in the cell of their inherent or residual levels.
    fn basis(&self) -> ScoreBasis {
        self.basis
    }
    /// The register's likelihood levels: the rows.
    fn likelihood(&self) -> Vec<ScaleLevel> {
        levels(&self.register.scales.likelihood)
    }
    /// The register's impact levels: the columns.
    fn impact(&self) -> Vec<ScaleLevel> {
        levels(&self.register.scales.impact)
    }
    /// Every likelihood x impact cell, zeros included, ordered by likelihoodLevel then impactLevel.
    fn cells(&self) -> Vec<HeatmapCell> {
        let scales = &self.register.scales;
        let mut cells = Vec::with_capacity(scales.likelihood.len() * scales.impact.len());
        for (l, likelihood) in scales.likelihood.iter().enumerate() {
            for (i, impact) in scales.impact.iter().enumerate() {
                let key = (int(l), int(i));
                let score = likelihood.value * impact.value;
                cells.push(HeatmapCell {
                    likelihood_level: key.0,
                    impact_level: key.1,
                    count: self.counts.get(&key).copied().unwrap_or(0),
                    score,
                    band: band(scales, scales.band_of_cell(l, i, score)),
                    drill: self.drill.clone(),
                });
            }
        }
        cells
    }
    /// Every risk that matches the filter.
    fn total(&self) -> i64 {
        self.total
    }
    /// Those without both levels: the cells add up to total - unscored.
    fn unscored(&self) -> i64 {
        self.unscored
    }
}

/// What a heatmap or summary counts when its filter names no status: the
/// open risks, and archived ones when asked for.
fn counted_statuses(include_archived: bool) -> Vec<RiskStatus> {
    let mut statuses = RiskStatus::OPEN.to_vec();
    if include_archived {
        statuses.push(RiskStatus::Archived);
    }
    statuses
}

fn int(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub struct HeatmapCell {
    likelihood_level: i32,
    impact_level: i32,
    count: i64,
    score: f64,
    band: RiskBand,
    drill: Arc<Drill>,
}

/// One cell of a heatmap.
#[Object]
impl HeatmapCell {
    /// The cell's likelihood level, from 0.
    fn likelihood_level(&self) -> i32 {
        self.likelihood_level
    }
    /// The cell's impact level, from 0.
    fn impact_level(&self) -> i32 {
        self.impact_level
    }
    /// Risks in the cell.
    fn count(&self) -> i64 {
        self.count
    }
    /// Likelihood value x impact value of the cell.
    fn score(&self) -> f64 {
        self.score
    }
    /// The band of the cell's score (or of the register's matrix).
    fn band(&self) -> &RiskBand {
        &self.band
    }
    /// The cell's risks, highest score first.
    async fn risks(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(10)",
            desc = "How many of the cell's risks, highest score first; at most 500."
        )]
        first: Option<i32>,
    ) -> AppResult<Vec<Risk>> {
        let first = super::page_size(ctx, first, 10)?;
        if self.count == 0 || first == 0 {
            return Ok(Vec::new());
        }
        let risks = self
            .drill
            .cell(first, (self.likelihood_level, self.impact_level))
            .await?;
        Ok(risks.into_iter().map(Risk::from).collect())
    }
}

/// The facets a filter names values of, with those values as the kept
/// counts hold them, and the filter without them; None when it names none.
fn facets_of(filter: &RiskFilter) -> Option<(Vec<FacetNamed>, RiskFilter)> {
    let mut rest = filter.clone();
    let ids = |v: Vec<ID>| v.into_iter().map(|id| id.0).collect();
    let named = [
        (
            Facet::Stage,
            rest.stage
                .take()
                .map(|v| v.iter().map(|s| s.as_str().to_owned()).collect()),
        ),
        (Facet::Category, rest.category.take()),
        (Facet::Department, rest.department.take()),
        (Facet::Owner, rest.owner_id.take().map(ids)),
        (Facet::Severity, rest.severity_id.take().map(ids)),
        (
            Facet::Treatment,
            rest.treatment
                .take()
                .map(|v| v.iter().map(|t| t.as_str().to_owned()).collect()),
        ),
    ];
    let named: Vec<_> = named
        .into_iter()
        .filter_map(|(facet, values)| Some((facet, values?)))
        .collect();
    (!named.is_empty()).then_some((named, rest))
}

/// `filter` with the severities it names by reference named by id instead,
/// as the kept counts hold them: the same risks match.
async fn by_severity_id(
    db: &DatabaseConnection,
    org_id: &str,
    mut filter: RiskFilter,
) -> AppResult<RiskFilter> {
    let Some(references) = filter.severity_reference.take() else {
        return Ok(filter);
    };
    let named = risk_query::severity_ids_referenced(db, org_id, &references).await?;
    filter.severity_id = Some(match filter.severity_id.take() {
        Some(ids) => ids.into_iter().filter(|id| named.contains(&id.0)).collect(),
        None => named.into_iter().map(ID).collect(),
    });
    Ok(filter)
}

/// The heatmap of `register`'s risks that match `filter` (its registerId is
/// ignored): one read of the kept counts when the filter names nothing a
/// heatmap does not count anyway, or values of one facet only. Values of
/// several facets fold from one tally of every risk's cell and facets,
/// which answers each combination a dashboard tries. Else the filter's own
/// tally.
pub async fn heatmap(
    ctx: &Context<'_>,
    register: Register,
    basis: ScoreBasis,
    filter: Option<RiskFilter>,
) -> AppResult<Heatmap> {
    let actor = ctx.viewer()?;
    let db = actor.db;
    let condition_of = |filter: Option<RiskFilter>| {
        let mut filter = filter.unwrap_or_default();
        filter.register_id = Some(ID(register.model.id.clone()));
        if filter.status.is_none() {
            filter.status = Some(counted_statuses(filter.include_archived == Some(true)));
        }
        risk_query::condition(actor.org_id(), actor.now.date_naive(), &filter, None)
    };
    let filter = match filter {
        Some(filter) => Some(by_severity_id(db, actor.org_id(), filter).await?),
        None => None,
    };
    let faceted = filter.as_ref().and_then(facets_of);
    let condition = condition_of(filter)?;
    // A filter that leaves out nothing more (`{}`, as a dashboard's empty
    // filter arrives) counts what the kept counts hold; one that names
    // values of facets besides, what the facets' counts hold.
    let unfiltered = condition_of(None)?;
    let faceted = match faceted {
        Some((named, rest)) => (condition_of(Some(rest))? == unfiltered).then_some(named),
        None => None,
    };
    let register_id = &register.model.id;
    let rows = if condition == unfiltered {
        heatmaps::kept_counts(db, register_id, basis).await?
    } else if let Some([(facet, values)]) = faceted.as_deref() {
        heatmaps::kept_facet_counts(db, register_id, basis, (*facet, values)).await?
    } else if let Some(named) = &faceted {
        let asked = (
            register_id.as_str(),
            format!("facet cells {basis:?}"),
            &unfiltered,
        );
        let count = |c| heatmaps::facet_cell_counts(db, c, basis);
        let members = |c| heatmaps::facet_cell_members(db, c, basis);
        let tally = answers::tally((ctx, &actor), asked, count, members).await?;
        heatmaps::facet_cells(&tally, named)
    } else {
        let asked = (register_id.as_str(), format!("cells {basis:?}"), &condition);
        let count = |c| heatmaps::cell_counts(db, c, basis);
        let members = |c| heatmaps::cell_members(db, c, basis);
        answers::tally((ctx, &actor), asked, count, members).await?
    };
    let (l_len, i_len) = (
        int(register.scales.likelihood.len()),
        int(register.scales.impact.len()),
    );
    let mut counts = HashMap::new();
    let (mut total, mut unscored) = (0, 0);
    for ((l, i), n) in rows {
        total += n;
        match (l, i) {
            (Some(l), Some(i)) if (0..l_len).contains(&l) && (0..i_len).contains(&i) => {
                counts.insert((l, i), n);
            }
            _ => unscored += n,
        }
    }
    let mut cells: Vec<(i32, i32)> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(cell, _)| *cell)
        .collect();
    cells.sort_unstable();
    Ok(Heatmap {
        drill: Arc::new(Drill {
            db: db.clone(),
            condition,
            basis,
            cells,
            by_first: Mutex::new(HashMap::new()),
        }),
        register,
        basis,
        counts,
        total,
        unscored,
    })
}

/// How many risks have one status.
#[derive(SimpleObject)]
pub struct StatusCount {
    /// The status.
    pub status: RiskStatus,
    /// Risks with it.
    pub count: i64,
}

/// How many risks are in one band.
#[derive(SimpleObject)]
pub struct BandCount {
    /// The band.
    pub band: RiskBand,
    /// Risks whose residual score falls in it.
    pub count: i64,
}

/// Totals of a register's open risks (OPEN, PENDING or MATERIALIZED), and
/// how many risks have each status.
#[derive(SimpleObject)]
pub struct RegisterSummary {
    /// Every open risk of the register: CLOSED and ARCHIVED ones are left out.
    pub total: i64,
    /// Open risks without a residual score.
    pub unscored: i64,
    /// Open risks whose residual band is above their tolerance.
    pub outside_tolerance: i64,
    /// Every status but ARCHIVED, CLOSED included, zeros included.
    pub by_status: Vec<StatusCount>,
    /// Open risks by residual band: every band of the register, zeros included.
    pub by_residual_band: Vec<BandCount>,
}

pub async fn summary(ctx: &Context<'_>, register: &Register) -> AppResult<RegisterSummary> {
    let actor = ctx.viewer()?;
    let filter = RiskFilter {
        register_id: Some(ID(register.model.id.clone())),
        ..RiskFilter::default()
    };
    let condition = risk_query::condition(actor.org_id(), actor.now.date_naive(), &filter, None)?;
    let asked = (register.model.id.as_str(), "summary".to_owned(), &condition);
    let count = |c| heatmaps::summary_counts(actor.db, c);
    let members = |c| heatmaps::summary_members(actor.db, c);
    let rows = answers::tally((ctx, &actor), asked, count, members).await?;
    let bands = register.scales.bands.len();
    let mut by_status: HashMap<RiskStatus, i64> = HashMap::new();
    let mut by_band = vec![0; bands];
    let (mut total, mut unscored, mut outside) = (0, 0, 0);
    for ((status, band, within), n) in rows {
        *by_status.entry(status).or_default() += n;
        if !RiskStatus::OPEN.contains(&status) {
            continue;
        }
        total += n;
        match band
            .and_then(|b| usize::try_from(b).ok())
            .filter(|b| *b < bands)
        {
            Some(b) => by_band[b] += n,
            None => unscored += n,
        }
        if within == Some(false) {
            outside += n;
        }
    }
    Ok(RegisterSummary {
        total,
        unscored,
        outside_tolerance: outside,
        by_status: RiskStatus::ALL
            .iter()
            .filter(|s| **s != RiskStatus::Archived)
            .map(|s| StatusCount {
                status: *s,
                count: by_status.get(s).copied().unwrap_or(0),
            })
            .collect(),
        by_residual_band: by_band
            .into_iter()
            .enumerate()
            .map(|(b, count)| BandCount {
                band: band(&register.scales, b),
                count,
            })
            .collect(),
    })
}

/// One group of a breakdown, for a chart.
#[derive(SimpleObject)]
pub struct BreakdownGroup {
    /// What the risks share: the text, the enumeration value, the member or
    /// severity ID, or the band's position; null for risks without one.
    pub key: Option<String>,
    /// How a person reads the key: the owner's name, the severity's or band's
    /// name, `Not set` for a missing key.
    pub label: String,
    /// How many risks.
    pub count: i64,
    /// The average score of those of them that are scored; null when none is.
    pub average_score: Option<f64>,
    /// The highest score among them; null when none is scored.
    pub max_score: Option<f64>,
}

/// The register's risks that match `filter`, grouped by `by`: bands lowest
/// first, every other key by count, largest first, then label.
pub async fn breakdown(
    ctx: &Context<'_>,
    register: &Register,
    by: BreakdownKey,
    basis: ScoreBasis,
    filter: Option<RiskFilter>,
) -> AppResult<Vec<BreakdownGroup>> {
    let actor = ctx.viewer()?;
    let mut filter = filter.unwrap_or_default();
    filter.register_id = Some(ID(register.model.id.clone()));
    let condition = risk_query::condition(actor.org_id(), actor.now.date_naive(), &filter, None)?;
    let asked = (
        register.model.id.as_str(),
        format!("breakdown {by:?} {basis:?}"),
        &condition,
    );
    let count = |c| heatmaps::breakdown_counts(actor.db, c, (by, basis));
    let members = |c| heatmaps::breakdown_members(actor.db, c, (by, basis));
    let counts = answers::tally((ctx, &actor), asked, count, members).await?;
    let groups = heatmaps::groups(&counts);
    let ids = || groups.iter().filter_map(|g| g.key.clone());
    let loaders = ctx.loaders()?;
    let names: HashMap<String, String> = match by {
        BreakdownKey::Owner => loaders
            .members
            .load_many(ids())
            .await?
            .into_iter()
            .map(|(id, m)| (id, store::members::shown_as(&m)))
            .collect(),
        BreakdownKey::Severity => loaders
            .severities
            .load_many(ids())
            .await?
            .into_iter()
            .map(|(id, s)| (id, s.name.clone()))
            .collect(),
        _ => HashMap::new(),
    };
    let label = |key: &str| match by {
        BreakdownKey::Owner | BreakdownKey::Severity => names.get(key).cloned(),
        BreakdownKey::Band => key
            .parse::<usize>()
            .ok()
            .and_then(|b| register.scales.bands.get(b))
            .map(|b| b.name.clone()),
        BreakdownKey::Status | BreakdownKey::Stage | BreakdownKey::Treatment => {
            Some(enums::label(key))
        }
        BreakdownKey::Category | BreakdownKey::Department => Some(key.to_owned()),
    };
    let mut answered: Vec<BreakdownGroup> = groups
        .into_iter()
        .map(|g| BreakdownGroup {
            label: g.key.as_deref().and_then(label).unwrap_or_else(|| {
                if by == BreakdownKey::Band {
                    "Unscored"
                } else {
                    "Not set"
                }
                .into()
            }),
            key: g.key,
            count: g.count,
            average_score: g.average,
            max_score: g.max,
        })
        .collect();
    if by == BreakdownKey::Band {
        answered.sort_by_key(|g| g.key.as_deref().and_then(|k| k.parse::<usize>().ok()));
    } else {
        answered.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    }
    Ok(answered)
}
