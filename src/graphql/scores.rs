//! Scales and scores as the API shows them.

use crate::domain::scales::{Band, Level, Scales};
use crate::domain::scoring::Score;
use async_graphql::SimpleObject;

/// One step of a likelihood or impact scale.
#[derive(SimpleObject, Clone)]
pub struct ScaleLevel {
    /// 0-based position in the scale.
    pub level: i32,
    /// Shown on axes and forms.
    pub name: String,
    /// The number scores multiply; ascending along the scale.
    pub value: f64,
    /// A CSS color; null when none.
    pub color: Option<String>,
    /// What the level means; null when none.
    pub description: Option<String>,
}

/// A range of scores with a name and color.
#[derive(SimpleObject, Clone)]
pub struct RiskBand {
    /// Position among the register's bands, from 0 (lowest).
    pub level: i32,
    /// E.g. High.
    pub name: String,
    /// Lowest score that falls in this band.
    pub threshold: f64,
    /// A CSS color, e.g. #c62828.
    pub color: String,
}

/// A register's scales.
#[derive(SimpleObject, Clone)]
pub struct RiskScales {
    /// Likelihood levels, lowest first.
    pub likelihood: Vec<ScaleLevel>,
    /// Impact levels, lowest first.
    pub impact: Vec<ScaleLevel>,
    /// Ordered by threshold, ascending; the first threshold is 0.
    pub bands: Vec<RiskBand>,
    /// When set, `matrix[likelihoodLevel][impactLevel]` is the band level of that cell, instead of the thresholds.
    pub matrix: Option<Vec<Vec<i32>>>,
}

/// A likelihood x impact score with its band.
#[derive(SimpleObject, Clone)]
pub struct RiskScore {
    /// The likelihood level, from 0.
    pub likelihood_level: i32,
    /// The value the score multiplies: the level's value, reduced by controls for a residual.
    pub likelihood_value: f64,
    /// The impact level, from 0.
    pub impact_level: i32,
    /// The value the score multiplies: the level's value, reduced by controls for a residual.
    pub impact_value: f64,
    /// likelihoodValue x impactValue.
    pub score: f64,
    /// The band of the score (or of the register's matrix cell).
    pub band: RiskBand,
    /// True where a residual level override set this score.
    pub overridden: bool,
}

fn int(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub fn levels(levels: &[Level]) -> Vec<ScaleLevel> {
    levels
        .iter()
        .enumerate()
        .map(|(i, l)| ScaleLevel {
            level: int(i),
            name: l.name.clone(),
            value: l.value,
            color: l.color.clone(),
            description: l.description.clone(),
        })
        .collect()
}

pub fn band(scales: &Scales, level: usize) -> RiskBand {
    let fallback = Band {
        name: String::new(),
        threshold: 0.0,
        color: String::new(),
    };
    let b = scales.bands.get(level).unwrap_or(&fallback);
    RiskBand {
        level: int(level),
        name: b.name.clone(),
        threshold: b.threshold,
        color: b.color.clone(),
    }
}

impl From<&Scales> for RiskScales {
    fn from(scales: &Scales) -> Self {
        Self {
            likelihood: levels(&scales.likelihood),
            impact: levels(&scales.impact),
            bands: (0..scales.bands.len()).map(|i| band(scales, i)).collect(),
            matrix: scales.matrix.clone(),
        }
    }
}

pub fn risk_score(scales: &Scales, s: Score) -> RiskScore {
    RiskScore {
        likelihood_level: int(s.likelihood_level),
        likelihood_value: s.likelihood_value,
        impact_level: int(s.impact_level),
        impact_value: s.impact_value,
        score: s.score,
        band: band(scales, s.band),
        overridden: s.overridden,
    }
}
