//! Inherent, residual and target-residual scores (DESIGN §4). These formulas
//! are the product's promise to auditors: change them only with the design.

use super::enums::{ControlHealth, MitigationTarget};
use super::scales::{EPSILON, Level, Scales};

/// A control linked to a risk, as scoring sees it.
#[derive(Clone, Copy, Debug)]
pub struct Mitigation {
    pub reduces: MitigationTarget,
    /// In force: the link's own strength, or its control's effectiveness.
    pub strength: f64,
    pub health: ControlHealth,
}

/// What a risk says about itself that scoring reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Assessment {
    pub likelihood: Option<usize>,
    pub impact: Option<usize>,
    pub likelihood_override: Option<usize>,
    pub impact_override: Option<usize>,
    pub tolerance: Option<usize>,
}

/// A score as stored with events (camelCase, as the API names it).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    pub likelihood_level: usize,
    pub likelihood_value: f64,
    pub impact_level: usize,
    pub impact_value: f64,
    pub score: f64,
    pub band: usize,
    pub overridden: bool,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Scores {
    pub inherent: Option<Score>,
    pub residual: Option<Score>,
    pub target: Option<Score>,
    pub within_tolerance: Option<bool>,
}

/// Rounds away float noise (5 x (1 - 0.8) is 0.9999999999999998): scores are
/// shown to people and compared by auditors, so 1 must read as 1.
fn tidy(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

fn health_factor(health: ControlHealth) -> f64 {
    match health {
        ControlHealth::Healthy => 1.0,
        ControlHealth::AtRisk => 0.5,
        ControlHealth::Critical => 0.0,
    }
}

fn reduces(target: MitigationTarget, side: MitigationTarget) -> bool {
    target == side || target == MitigationTarget::Both
}

/// 1 - prod(1 - s*h) over the links that reduce `side`.
fn reduction(links: &[Mitigation], side: MitigationTarget, full_health: bool) -> f64 {
    let kept: f64 = links
        .iter()
        .filter(|link| reduces(link.reduces, side))
        .map(|link| {
            let h = if full_health {
                1.0
            } else {
                health_factor(link.health)
            };
            1.0 - link.strength.clamp(0.0, 1.0) * h
        })
        .product();
    1.0 - kept
}

/// The highest level whose value the reduced value still reaches, or 0.
fn level_for(scale: &[Level], value: f64) -> usize {
    scale
        .iter()
        .rposition(|level| level.value <= value + EPSILON)
        .unwrap_or(0)
}

/// One side of a residual: the reduced value and its level, or the override.
fn residual_side(
    scale: &[Level],
    inherent_value: f64,
    reduction: f64,
    override_level: Option<usize>,
) -> (usize, f64, bool) {
    match override_level.and_then(|level| scale.get(level).map(|l| (level, l.value))) {
        Some((level, value)) => (level, value, true),
        None => {
            let value = tidy(inherent_value * (1.0 - reduction));
            (level_for(scale, value), value, false)
        }
    }
}

fn score(
    scales: &Scales,
    (likelihood_level, likelihood_value, l_over): (usize, f64, bool),
    (impact_level, impact_value, i_over): (usize, f64, bool),
) -> Score {
    let score = tidy(likelihood_value * impact_value);
    Score {
        likelihood_level,
        likelihood_value,
        impact_level,
        impact_value,
        score,
        band: scales.band_of_cell(likelihood_level, impact_level, score),
        overridden: l_over || i_over,
    }
}

/// Scores a risk. Levels out of the scales' range leave it unscored; callers
/// validate levels before they get here.
pub fn compute(scales: &Scales, risk: &Assessment, links: &[Mitigation]) -> Scores {
    let (Some(l), Some(i)) = (risk.likelihood, risk.impact) else {
        return Scores::default();
    };
    let (Some(lv), Some(iv)) = (
        scales.likelihood.get(l).map(|x| x.value),
        scales.impact.get(i).map(|x| x.value),
    ) else {
        return Scores::default();
    };
    let inherent = score(scales, (l, lv, false), (i, iv, false));
    let residual_of = |full_health: bool, overrides: (Option<usize>, Option<usize>)| {
        score(
            scales,
            residual_side(
                &scales.likelihood,
                lv,
                reduction(links, MitigationTarget::Likelihood, full_health),
                overrides.0,
            ),
            residual_side(
                &scales.impact,
                iv,
                reduction(links, MitigationTarget::Impact, full_health),
                overrides.1,
            ),
        )
    };
    let residual = residual_of(false, (risk.likelihood_override, risk.impact_override));
    let target = residual_of(true, (None, None));
    Scores {
        within_tolerance: risk.tolerance.map(|t| residual.band <= t),
        inherent: Some(inherent),
        residual: Some(residual),
        target: Some(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::enums::ScalesPreset;
    use ControlHealth::*;
    use MitigationTarget::*;

    fn link(reduces: MitigationTarget, strength: f64, health: ControlHealth) -> Mitigation {
        Mitigation {
            reduces,
            strength,
            health,
        }
    }

    fn at(l: usize, i: usize) -> Assessment {
        Assessment {
            likelihood: Some(l),
            impact: Some(i),
            ..Assessment::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn unscored_until_both_levels_are_set() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let half = Assessment {
            likelihood: Some(2),
            ..Assessment::default()
        };
        assert_eq!(compute(&scales, &half, &[]), Scores::default());
    }

    #[test]
    fn without_controls_residual_and_target_equal_inherent() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let s = compute(&scales, &at(3, 4), &[]);
        let inherent = s.inherent.clone().expect("scored");
        assert!(close(inherent.score, 20.0));
        assert_eq!(inherent.band, 3);
        assert_eq!(s.residual, Some(inherent.clone()));
        assert_eq!(s.target, Some(inherent));
    }

    /// (assessment, links, residual (L level, L value, I level, I value, score, band, overridden), target score)
    type Case = (
        Assessment,
        Vec<Mitigation>,
        (usize, f64, usize, f64, f64, usize, bool),
        f64,
    );

    #[test]
    fn residual_follows_the_design_formulas() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let cases: Vec<(&str, Case)> = vec![
            (
                // Lv 5 * (1 - 0.5) = 2.5 -> level 1 (value 2); Iv 4 untouched.
                "one healthy control on likelihood",
                (
                    at(4, 3),
                    vec![link(Likelihood, 0.5, Healthy)],
                    (1, 2.5, 3, 4.0, 10.0, 2, false),
                    10.0,
                ),
            ),
            (
                // AT_RISK halves the strength: 5 * (1 - 0.25) = 3.75 -> level 2.
                "an at-risk control counts half",
                (
                    at(4, 3),
                    vec![link(Likelihood, 0.5, AtRisk)],
                    (2, 3.75, 3, 4.0, 15.0, 2, false),
                    10.0,
                ),
            ),
            (
                "a critical control stops counting",
                (
                    at(4, 3),
                    vec![link(Likelihood, 0.5, Critical)],
                    (4, 5.0, 3, 4.0, 20.0, 3, false),
                    10.0,
                ),
            ),
            (
                // rL = 1 - (1-0.5)(1-0.5) = 0.75: 4 * 0.25 = 1 -> level 0.
                "two controls on one side compound",
                (
                    at(3, 4),
                    vec![
                        link(Likelihood, 0.5, Healthy),
                        link(Likelihood, 0.5, Healthy),
                    ],
                    (0, 1.0, 4, 5.0, 5.0, 1, false),
                    5.0,
                ),
            ),
            (
                // BOTH reduces each side: 5 * 0.8 = 4 (level 3) on both; 16 is High.
                "a BOTH link reduces both sides",
                (
                    at(4, 4),
                    vec![link(Both, 0.2, Healthy)],
                    (3, 4.0, 3, 4.0, 16.0, 2, false),
                    16.0,
                ),
            ),
            (
                // Likelihood 5 * 0.8 = 4; impact overridden to level 0 (value 1).
                "an override replaces its side only",
                (
                    Assessment {
                        impact_override: Some(0),
                        ..at(4, 4)
                    },
                    vec![link(Both, 0.2, Healthy)],
                    (3, 4.0, 0, 1.0, 4.0, 0, true),
                    16.0,
                ),
            ),
            (
                // rL = 1 - (1-0.5)(1-0.5) = 0.75: 5 * 0.25 = 1.25 -> level 0;
                // rI = 0.5 from BOTH alone: 5 * 0.5 = 2.5 -> level 1.
                "a BOTH link and a likelihood link on the same risk",
                (
                    at(4, 4),
                    vec![
                        link(Both, 0.5, Healthy),
                        link(Likelihood, 0.5, AtRisk),
                        link(Likelihood, 1.0, Healthy),
                    ],
                    (0, 0.0, 1, 2.5, 0.0, 0, false),
                    0.0,
                ),
            ),
            (
                // The same links with the full-strength one CRITICAL: only
                // BOTH (0.5) and the AT_RISK one (0.25) count on likelihood:
                // rL = 1 - 0.5 * 0.75 = 0.625: 5 * 0.375 = 1.875 -> level 0.
                "a critical link drops out of the product",
                (
                    at(4, 4),
                    vec![
                        link(Both, 0.5, Healthy),
                        link(Likelihood, 0.5, AtRisk),
                        link(Likelihood, 1.0, Critical),
                    ],
                    (0, 1.875, 1, 2.5, 4.6875, 0, false),
                    0.0,
                ),
            ),
            (
                // Reduced below the first level's value: level 0, value kept.
                "a value under every level maps to level 0",
                (
                    at(0, 0),
                    vec![link(Impact, 0.9, Healthy)],
                    (0, 1.0, 0, 0.1, 0.1, 0, false),
                    0.1,
                ),
            ),
        ];
        for (name, (risk, links, expected, target_score)) in cases {
            let s = compute(&scales, &risk, &links);
            let r = s.residual.expect(name);
            let (ll, lv, il, iv, score, band, overridden) = expected;
            assert_eq!(
                (r.likelihood_level, r.impact_level),
                (ll, il),
                "{name}: levels"
            );
            assert!(
                close(r.likelihood_value, lv),
                "{name}: likelihood value {}",
                r.likelihood_value
            );
            assert!(
                close(r.impact_value, iv),
                "{name}: impact value {}",
                r.impact_value
            );
            assert!(close(r.score, score), "{name}: score {}", r.score);
            assert_eq!(r.band, band, "{name}: band");
            assert_eq!(r.overridden, overridden, "{name}: overridden");
            assert!(
                close(s.target.expect(name).score, target_score),
                "{name}: target"
            );
        }
    }

    #[test]
    fn non_linear_values_map_back_to_the_highest_level_reached() {
        let scales = Scales::preset(ScalesPreset::Nist80030);
        // Likelihood 10 * (1 - 0.3) = 7 -> Moderate (5), not High (8).
        let s = compute(&scales, &at(4, 3), &[link(Likelihood, 0.3, Healthy)]);
        let r = s.residual.expect("scored");
        assert_eq!(r.likelihood_level, 2);
        assert!(close(r.score, 56.0));
        // The matrix bands the cell (Moderate, High): Moderate.
        assert_eq!(r.band, 2);
        // 10 * (1 - 0.2) = 8 exactly reaches High.
        let r = compute(&scales, &at(4, 3), &[link(Likelihood, 0.2, Healthy)])
            .residual
            .expect("scored");
        assert_eq!(r.likelihood_level, 3);
    }

    #[test]
    fn reduced_values_carry_no_float_noise() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        // 5 x (1 - 0.8) is 0.9999999999999998 in floating point.
        let r = compute(&scales, &at(4, 3), &[link(Likelihood, 0.8, Healthy)])
            .residual
            .expect("scored");
        assert_eq!((r.likelihood_value, r.score), (1.0, 4.0));
    }

    #[test]
    fn tolerance_compares_the_residual_band() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let risk = |tolerance| Assessment {
            tolerance,
            ..at(4, 3)
        };
        // Residual 20 is Critical (3).
        assert_eq!(
            compute(&scales, &risk(Some(2)), &[]).within_tolerance,
            Some(false)
        );
        assert_eq!(
            compute(&scales, &risk(Some(3)), &[]).within_tolerance,
            Some(true)
        );
        assert_eq!(compute(&scales, &risk(None), &[]).within_tolerance, None);
    }

    #[test]
    fn scores_on_a_threshold_take_that_band() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        // 1 * 5 = 5: exactly Medium's threshold.
        assert_eq!(
            compute(&scales, &at(0, 4), &[])
                .inherent
                .expect("scored")
                .band,
            1
        );
        // 2 * 5 = 10: exactly High's.
        assert_eq!(
            compute(&scales, &at(1, 4), &[])
                .inherent
                .expect("scored")
                .band,
            2
        );
    }
}
