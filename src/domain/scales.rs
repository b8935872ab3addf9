//! A register's scales: likelihood and impact levels, risk bands and the
//! optional lookup matrix, with their presets and validation.

use super::enums::ScalesPreset;
use super::inputs::ScalesRemapInput;
use super::validation;
use crate::error::{AppError, AppResult};
use entity::{register, risk};
use serde::{Deserialize, Serialize};

/// Scores are products of floats; this much slack keeps a score that lands on
/// a threshold in the band it names.
pub const EPSILON: f64 = 1e-9;
const MAX_LEVELS: usize = 20;
const MAX_BANDS: usize = 20;
const MAX_NAME: usize = 64;

/// A likelihood or impact level, as given on input (`ScaleLevelInput`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, async_graphql::InputObject)]
#[graphql(name = "ScaleLevelInput")]
pub struct Level {
    /// Shown on axes and forms; 1 to 64 characters.
    pub name: String,
    /// The number scores multiply: positive, and strictly ascending along the scale.
    pub value: f64,
    /// A CSS color for the level, e.g. #2e7d32; null for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// What the level means in this register; null for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A risk band, as given on input (`RiskBandInput`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, async_graphql::InputObject)]
#[graphql(name = "RiskBandInput")]
pub struct Band {
    /// 1 to 64 characters, e.g. High.
    pub name: String,
    /// The lowest score in the band; the first band's is 0 and they ascend.
    pub threshold: f64,
    /// A CSS color for heatmaps, e.g. #c62828.
    pub color: String,
}

/// A register's scales, as given on input (`RiskScalesInput`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, async_graphql::InputObject)]
#[graphql(name = "RiskScalesInput")]
pub struct Scales {
    /// Likelihood levels, lowest first; 1 to 20. A risk's level is an index into this list.
    pub likelihood: Vec<Level>,
    /// Impact levels, lowest first; 1 to 20.
    pub impact: Vec<Level>,
    /// Risk bands, lowest first; 1 to 20.
    pub bands: Vec<Band>,
    /// Band levels as GraphQL Ints: an unsigned type would let validation
    /// pass a negative level that then fails to parse without naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Vec<Vec<i32>>>,
}

fn levels(names: &[&str], values: &[f64]) -> Vec<Level> {
    names
        .iter()
        .zip(values)
        .map(|(name, value)| Level {
            name: (*name).to_owned(),
            value: *value,
            color: None,
            description: None,
        })
        .collect()
}

fn bands(spec: &[(&str, f64, &str)]) -> Vec<Band> {
    spec.iter()
        .map(|(name, threshold, color)| Band {
            name: (*name).to_owned(),
            threshold: *threshold,
            color: (*color).to_owned(),
        })
        .collect()
}

const GREEN: &str = "#2e7d32";
const YELLOW: &str = "#f9a825";
const ORANGE: &str = "#ef6c00";
const RED: &str = "#c62828";

impl Scales {
    pub fn preset(preset: ScalesPreset) -> Self {
        match preset {
            ScalesPreset::Default5x5 => Self {
                likelihood: levels(
                    &["Rare", "Unlikely", "Possible", "Likely", "Almost certain"],
                    &[1.0, 2.0, 3.0, 4.0, 5.0],
                ),
                impact: levels(
                    &["Insignificant", "Minor", "Moderate", "Major", "Severe"],
                    &[1.0, 2.0, 3.0, 4.0, 5.0],
                ),
                bands: bands(&[
                    ("Low", 0.0, GREEN),
                    ("Medium", 5.0, YELLOW),
                    ("High", 10.0, ORANGE),
                    ("Critical", 17.0, RED),
                ]),
                matrix: None,
            },
            ScalesPreset::Simple3x3 => Self {
                likelihood: levels(&["Low", "Medium", "High"], &[1.0, 2.0, 3.0]),
                impact: levels(&["Low", "Medium", "High"], &[1.0, 2.0, 3.0]),
                bands: bands(&[
                    ("Low", 0.0, GREEN),
                    ("Medium", 3.0, YELLOW),
                    ("High", 6.0, RED),
                ]),
                matrix: None,
            },
            ScalesPreset::Nist80030 => {
                let names = ["Very Low", "Low", "Moderate", "High", "Very High"];
                let values = [1.0, 2.0, 5.0, 8.0, 10.0];
                Self {
                    likelihood: levels(&names, &values),
                    impact: levels(&names, &values),
                    // The thresholds follow the semi-quantitative column of
                    // Table I-2 (0-4, 5-20, 21-79, 80-95, 96-100); the matrix
                    // decides the band of every scored cell.
                    bands: bands(&[
                        ("Very Low", 0.0, "#1b5e20"),
                        ("Low", 5.0, GREEN),
                        ("Moderate", 21.0, YELLOW),
                        ("High", 80.0, ORANGE),
                        ("Very High", 96.0, RED),
                    ]),
                    matrix: Some(vec![
                        vec![0, 0, 0, 1, 1],
                        vec![0, 1, 1, 1, 2],
                        vec![0, 1, 2, 2, 3],
                        vec![0, 1, 2, 3, 4],
                        vec![0, 1, 2, 3, 4],
                    ]),
                }
            }
        }
    }

    /// Checks every rule of DESIGN §4; `field` is the input path of the scales.
    pub fn validate(&self, field: &str) -> AppResult<()> {
        validate_levels(&self.likelihood, &format!("{field}.likelihood"))?;
        validate_levels(&self.impact, &format!("{field}.impact"))?;
        let bands_field = format!("{field}.bands");
        if self.bands.is_empty() || self.bands.len() > MAX_BANDS {
            return Err(AppError::bad_input(
                bands_field,
                format!("give between 1 and {MAX_BANDS} bands"),
            ));
        }
        for (i, band) in self.bands.iter().enumerate() {
            let at = format!("{bands_field}[{i}]");
            check_name(&band.name, &format!("{at}.name"))?;
            if band.color.trim().is_empty() {
                return Err(AppError::bad_input(
                    format!("{at}.color"),
                    "a band needs a color",
                ));
            }
            if !band.threshold.is_finite() {
                return Err(AppError::bad_input(
                    format!("{at}.threshold"),
                    "must be a number",
                ));
            }
            if i == 0 && band.threshold != 0.0 {
                return Err(AppError::bad_input(
                    format!("{at}.threshold"),
                    "the first band starts at 0",
                ));
            }
            if i > 0 && band.threshold <= self.bands[i - 1].threshold {
                return Err(AppError::bad_input(
                    format!("{at}.threshold"),
                    "band thresholds must be strictly ascending",
                ));
            }
        }
        if let Some(matrix) = &self.matrix {
            let at = format!("{field}.matrix");
            if matrix.len() != self.likelihood.len() {
                return Err(AppError::bad_input(
                    at,
                    "the matrix needs one row per likelihood level",
                ));
            }
            for (l, row) in matrix.iter().enumerate() {
                if row.len() != self.impact.len() {
                    return Err(AppError::bad_input(
                        format!("{at}[{l}]"),
                        "each matrix row needs one entry per impact level",
                    ));
                }
                let in_range =
                    |band: &i32| usize::try_from(*band).is_ok_and(|b| b < self.bands.len());
                if let Some(i) = row.iter().position(|band| !in_range(band)) {
                    return Err(AppError::bad_input(
                        format!("{at}[{l}][{i}]"),
                        "each matrix entry must be a band level",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The band of a score: the last band whose threshold it reaches.
    pub fn band_of_score(&self, score: f64) -> usize {
        self.bands
            .iter()
            .rposition(|band| band.threshold <= score + EPSILON)
            .unwrap_or(0)
    }

    /// The band of a cell: the matrix entry when there is a matrix, else the
    /// band of the score.
    pub fn band_of_cell(&self, likelihood: usize, impact: usize, score: f64) -> usize {
        self.matrix
            .as_ref()
            .and_then(|m| m.get(likelihood).and_then(|row| row.get(impact)))
            .and_then(|band| usize::try_from(*band).ok())
            .unwrap_or_else(|| self.band_of_score(score))
    }

    /// The scales a register stores.
    pub fn of(register: &register::Model) -> AppResult<Self> {
        Self::from_json(&register.scales)
    }

    pub fn from_json(text: &str) -> AppResult<Self> {
        Ok(serde_json::from_str(text)?)
    }

    pub fn to_json(&self) -> String {
        // Serializing plain strings, floats and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn check_name(name: &str, field: &str) -> AppResult<()> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(AppError::bad_input(
            field,
            format!("a name is required, at most {MAX_NAME} characters"),
        ));
    }
    Ok(())
}

fn validate_levels(levels: &[Level], field: &str) -> AppResult<()> {
    if levels.is_empty() || levels.len() > MAX_LEVELS {
        return Err(AppError::bad_input(
            field,
            format!("give between 1 and {MAX_LEVELS} levels"),
        ));
    }
    for (i, level) in levels.iter().enumerate() {
        let at = format!("{field}[{i}]");
        check_name(&level.name, &format!("{at}.name"))?;
        if !(level.value.is_finite() && level.value > 0.0) {
            return Err(AppError::bad_input(
                format!("{at}.value"),
                "level values must be positive",
            ));
        }
        if i > 0 && level.value <= levels[i - 1].value {
            return Err(AppError::bad_input(
                format!("{at}.value"),
                "level values must be strictly ascending",
            ));
        }
    }
    Ok(())
}

/// Where each old level of one side goes; None keeps levels as they are.
pub type LevelMap = Option<Vec<usize>>;

/// Validates a remap of one side against the old and new level counts.
fn check_remap(
    field: &str,
    remap: Option<&Vec<i32>>,
    old_len: usize,
    new_len: usize,
) -> AppResult<LevelMap> {
    let Some(remap) = remap else { return Ok(None) };
    if remap.len() != old_len {
        return Err(AppError::bad_input(
            field,
            format!("give a new level for each of the {old_len} old levels"),
        ));
    }
    remap
        .iter()
        .enumerate()
        .map(|(i, level)| validation::level(&format!("{field}[{i}]"), *level, new_len, "new"))
        .collect::<AppResult<Vec<_>>>()
        .map(Some)
}

/// The remap of both sides, checked.
fn remaps(
    remap: Option<&ScalesRemapInput>,
    old: &Scales,
    new: &Scales,
) -> AppResult<(LevelMap, LevelMap)> {
    Ok((
        check_remap(
            "scalesRemap.likelihood",
            remap.and_then(|r| r.likelihood.as_ref()),
            old.likelihood.len(),
            new.likelihood.len(),
        )?,
        check_remap(
            "scalesRemap.impact",
            remap.and_then(|r| r.impact.as_ref()),
            old.impact.len(),
            new.impact.len(),
        )?,
    ))
}

/// A move of a register's risks from old scales to new ones: where each old
/// level goes, and how many levels the new scales have.
pub struct ScalesMove {
    likelihood: LevelMap,
    impact: LevelMap,
    lengths: (usize, usize, usize),
}

impl ScalesMove {
    /// The move, with the remap (if any) checked against both scales.
    pub fn new(remap: Option<&ScalesRemapInput>, old: &Scales, new: &Scales) -> AppResult<Self> {
        let (likelihood, impact) = remaps(remap, old, new)?;
        Ok(Self {
            likelihood,
            impact,
            lengths: (new.likelihood.len(), new.impact.len(), new.bands.len()),
        })
    }

    /// `risk` with its levels and overrides moved, or None when a level would
    /// fall out of the new scales' range (scores are left to the caller).
    pub fn apply(&self, risk: &risk::Model) -> Option<risk::Model> {
        let map = |level: Option<i32>, remap: &LevelMap| -> Option<i32> {
            let level = level?;
            match remap {
                Some(to) => usize::try_from(level)
                    .ok()
                    .and_then(|l| to.get(l))
                    .and_then(|l| i32::try_from(*l).ok()),
                None => Some(level),
            }
        };
        let out = |level: Option<i32>, len: usize| {
            level.is_some_and(|l| usize::try_from(l).map_or(true, |l| l >= len))
        };
        let (l_len, i_len, b_len) = self.lengths;
        let mut after = risk.clone();
        after.likelihood_level = map(risk.likelihood_level, &self.likelihood);
        after.residual_likelihood_override =
            map(risk.residual_likelihood_override, &self.likelihood);
        after.impact_level = map(risk.impact_level, &self.impact);
        after.residual_impact_override = map(risk.residual_impact_override, &self.impact);
        let stranded = out(after.likelihood_level, l_len)
            || out(after.residual_likelihood_override, l_len)
            || out(after.impact_level, i_len)
            || out(after.residual_impact_override, i_len)
            || out(after.tolerance_level, b_len);
        (!stranded).then_some(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: AppResult<()>) -> String {
        match result {
            Err(AppError::BadUserInput { field, .. }) => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn presets_are_valid() {
        for preset in ScalesPreset::ALL {
            assert!(
                Scales::preset(*preset).validate("scales").is_ok(),
                "{preset:?}"
            );
        }
    }

    #[test]
    fn bands_take_the_last_threshold_reached() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let band = |s| scales.bands[scales.band_of_score(s)].name.clone();
        assert_eq!(band(0.0), "Low");
        assert_eq!(band(4.99), "Low");
        assert_eq!(band(5.0), "Medium");
        assert_eq!(band(16.0), "High");
        assert_eq!(band(17.0), "Critical");
        assert_eq!(band(25.0), "Critical");
        // 0.1 * 3 * ... lands a hair under 5 in floating point; it is still 5.
        assert_eq!(band(0.1 * 50.0), "Medium");
    }

    #[test]
    fn nist_matrix_decides_cell_bands() {
        let scales = Scales::preset(ScalesPreset::Nist80030);
        // Very High likelihood, Very Low impact scores 10 but bands Very Low.
        assert_eq!(scales.band_of_cell(4, 0, 10.0), 0);
        assert_eq!(scales.band_of_cell(0, 4, 10.0), 1);
        assert_eq!(scales.band_of_cell(2, 2, 25.0), 2);
    }

    #[test]
    fn invalid_scales_name_the_field() {
        let base = Scales::preset(ScalesPreset::Default5x5);

        let mut s = base.clone();
        s.likelihood.clear();
        assert_eq!(field_of(s.validate("scales")), "scales.likelihood");

        let mut s = base.clone();
        s.impact[2].value = 1.5;
        assert_eq!(field_of(s.validate("scales")), "scales.impact[2].value");

        let mut s = base.clone();
        s.likelihood[0].value = 0.0;
        assert_eq!(field_of(s.validate("scales")), "scales.likelihood[0].value");

        let mut s = base.clone();
        s.bands[0].threshold = 1.0;
        assert_eq!(field_of(s.validate("scales")), "scales.bands[0].threshold");

        let mut s = base.clone();
        s.bands[3].threshold = 10.0;
        assert_eq!(field_of(s.validate("scales")), "scales.bands[3].threshold");

        let mut s = base.clone();
        s.matrix = Some(vec![vec![0; 5]; 4]);
        assert_eq!(field_of(s.validate("scales")), "scales.matrix");

        let mut s = base;
        s.matrix = Some(vec![vec![0, 1, 2, 3, 4]; 5]);
        assert_eq!(field_of(s.validate("scales")), "scales.matrix[0][4]");
    }

    fn risk_at(likelihood: i32, impact: i32, tolerance: i32) -> risk::Model {
        let mut risk = crate::domain::risk::new_risk(
            "rsk_1".into(),
            ("org", "reg"),
            "mem",
            chrono::DateTime::UNIX_EPOCH,
        );
        risk.likelihood_level = Some(likelihood);
        risk.impact_level = Some(impact);
        risk.tolerance_level = Some(tolerance);
        risk
    }

    #[test]
    fn a_move_remaps_levels_and_strands_what_falls_out() {
        let five = Scales::preset(ScalesPreset::Default5x5);
        let three = Scales::preset(ScalesPreset::Simple3x3);
        let remap = ScalesRemapInput {
            likelihood: Some(vec![0, 0, 1, 2, 2]),
            impact: None,
        };
        let moving = ScalesMove::new(Some(&remap), &five, &three).expect("valid remap");
        let moved = moving.apply(&risk_at(4, 1, 2)).expect("in range");
        assert_eq!(
            (moved.likelihood_level, moved.impact_level),
            (Some(2), Some(1))
        );
        // Impact 4 has no place on three levels without an impact remap,
        // and band 3 is beyond three bands.
        assert!(moving.apply(&risk_at(0, 4, 0)).is_none());
        assert!(moving.apply(&risk_at(0, 0, 3)).is_none());
        // Without a remap, levels stay as they are.
        let kept = ScalesMove::new(None, &five, &five).expect("no remap");
        assert_eq!(
            kept.apply(&risk_at(4, 4, 3)).map(|r| r.likelihood_level),
            Some(Some(4))
        );
    }

    #[test]
    fn a_remap_needs_one_new_level_per_old_one_in_range() {
        let five = Scales::preset(ScalesPreset::Default5x5);
        let three = Scales::preset(ScalesPreset::Simple3x3);
        let short = ScalesRemapInput {
            likelihood: Some(vec![0, 1]),
            impact: None,
        };
        assert!(matches!(
            ScalesMove::new(Some(&short), &five, &three),
            Err(AppError::BadUserInput { field, .. }) if field == "scalesRemap.likelihood"
        ));
        let beyond = ScalesRemapInput {
            likelihood: None,
            impact: Some(vec![0, 1, 2, 3, 4]),
        };
        assert!(matches!(
            ScalesMove::new(Some(&beyond), &five, &three),
            Err(AppError::BadUserInput { field, .. }) if field == "scalesRemap.impact[3]"
        ));
    }
}
